// Phase (c): M lookups of finished tasks with C in flight.
import { describe } from "../errors.ts";
import { send } from "../http.ts";
import { Progress } from "../progress.ts";
import { perSecond, round, type Summary, summarize, wallMs } from "../stats.ts";
import type { Target, TaskView } from "../targets.ts";
import { ErrorLog, pool } from "./pool.ts";

export type LookupPhase = {
	requested: number;
	ok: number;
	errors: number;
	errorSamples: string[];
	durationMs: number;
	perSecond: number | null;
	latencyMs: Summary | null;
};

export async function lookupPhase(target: Target, finished: readonly TaskView[], m: number, concurrency: number): Promise<LookupPhase> {
	const progress = new Progress(`${target.name} lookups`);
	const latencies: number[] = [];
	const errors = new ErrorLog();
	let next = 0;
	let ok = 0;
	const started = wallMs();
	if (finished.length > 0) {
		try {
			await pool(concurrency, async () => {
				if (next >= m) return false;
				next += 1;
				const task = finished[Math.floor(Math.random() * finished.length)];
				if (task === undefined) return false;
				const start = wallMs();
				try {
					const response = await send(target.agent, target.baseUrl, "GET", target.taskPath(task.id), {
						headers: target.headers,
						timeoutMs: 60_000,
					});
					latencies.push(wallMs() - start);
					if (response.status === 200 && target.parseTask(response.text).terminal) ok += 1;
					else errors.add(`GET answered ${response.status}: ${response.text.slice(0, 200)}`);
				} catch (error) {
					target.checkAlive();
					errors.add(describe(error));
				}
				progress.update(`${latencies.length + errors.count}/${m}`);
				return true;
			});
		} catch (error) {
			progress.abandon();
			throw error;
		}
	}
	const durationMs = wallMs() - started;
	const phase: LookupPhase = {
		requested: m,
		ok,
		errors: errors.count,
		errorSamples: errors.samples,
		durationMs: round(durationMs),
		perSecond: perSecond(latencies.length, durationMs),
		latencyMs: summarize(latencies),
	};
	progress.done(`${ok}/${m} in ${(durationMs / 1000).toFixed(1)} s (${phase.perSecond ?? "-"}/s), ${errors.count} errors`);
	return phase;
}
