// Phase (a): submit N echo tasks with C requests in flight.
import { describe } from "../errors.ts";
import { send } from "../http.ts";
import { Progress } from "../progress.ts";
import { perSecond, round, type Summary, summarize, wallMs } from "../stats.ts";
import type { Target } from "../targets.ts";
import { ErrorLog, pool } from "./pool.ts";

export type Submitted = { id: string; submitStart: number; submitEnd: number };

export type SubmitPhase = {
	requested: number;
	accepted: number;
	errors: number;
	errorSamples: string[];
	durationMs: number;
	perSecond: number | null;
	latencyMs: Summary | null;
	firstStart: number;
	lastEnd: number;
};

export async function submitPhase(target: Target, n: number, concurrency: number): Promise<{ phase: SubmitPhase; tasks: Submitted[] }> {
	const progress = new Progress(`${target.name} submit`);
	const tasks: Submitted[] = [];
	const latencies: number[] = [];
	const errors = new ErrorLog();
	let next = 0;
	let firstStart = Number.POSITIVE_INFINITY;
	let lastEnd = 0;
	const started = wallMs();
	try {
		await pool(concurrency, async () => {
			const index = next++;
			if (index >= n) return false;
			const body = JSON.stringify({ type: "echo", payload: { bench: "load", index } });
			const start = wallMs();
			firstStart = Math.min(firstStart, start);
			try {
				const response = await send(target.agent, target.baseUrl, "POST", target.submitPath, {
					body,
					headers: target.headers,
					timeoutMs: 60_000,
				});
				const end = wallMs();
				lastEnd = Math.max(lastEnd, end);
				latencies.push(end - start);
				if (response.status !== 202) {
					errors.add(`POST answered ${response.status}: ${response.text.slice(0, 200)}`);
				} else {
					tasks.push({ id: target.parseSubmit(response.text), submitStart: start, submitEnd: end });
				}
			} catch (error) {
				lastEnd = Math.max(lastEnd, wallMs());
				target.checkAlive();
				errors.add(describe(error));
			}
			const elapsed = wallMs() - started;
			progress.update(`${tasks.length + errors.count}/${n} answered, ${errors.count} errors, ${perSecond(tasks.length, elapsed) ?? 0}/s`);
			return true;
		});
	} catch (error) {
		progress.abandon();
		throw error;
	}
	const durationMs = lastEnd - firstStart;
	const phase: SubmitPhase = {
		requested: n,
		accepted: tasks.length,
		errors: errors.count,
		errorSamples: errors.samples,
		durationMs: round(durationMs),
		perSecond: perSecond(tasks.length, durationMs),
		latencyMs: summarize(latencies),
		firstStart,
		lastEnd,
	};
	progress.done(
		`${tasks.length}/${n} accepted in ${(durationMs / 1000).toFixed(1)} s (${phase.perSecond ?? "-"}/s), ${errors.count} errors`,
	);
	return { phase, tasks };
}
