// Phase (d): idle latency, one task at a time, submit → terminal.
import { setTimeout as sleep } from "node:timers/promises";
import { describe } from "../errors.ts";
import { send } from "../http.ts";
import { Progress } from "../progress.ts";
import { type Summary, summarize, wallMs } from "../stats.ts";
import type { Target, TaskView } from "../targets.ts";
import { ErrorLog } from "./pool.ts";

export type IdlePhase = {
	samples: number;
	ok: number;
	failed: number;
	lost: number;
	errorSamples: string[];
	/** Client wall time: submit sent → terminal record received. */
	latencyMs: Summary | null;
	/** finishedAt − createdAt of the same tasks. */
	serverMs: Summary | null;
};

/** One task at a time: submit, then wait (taskflare: ?wait=10; baseline: poll every 20 ms). */
export async function idlePhase(target: Target, samples: number): Promise<IdlePhase> {
	const progress = new Progress(`${target.name} idle latency`);
	const wall: number[] = [];
	const server: number[] = [];
	const errors = new ErrorLog();
	let ok = 0;
	let failed = 0;
	let lost = 0;
	const perTaskDeadlineMs = 60_000;
	for (let sample = 0; sample < samples; sample += 1) {
		const start = wallMs();
		try {
			const body = JSON.stringify({ type: "echo", payload: { bench: "idle", sample } });
			const created = await send(target.agent, target.baseUrl, "POST", target.submitPath, {
				body,
				headers: target.headers,
				timeoutMs: 60_000,
			});
			if (created.status !== 202) {
				errors.add(`POST answered ${created.status}: ${created.text.slice(0, 200)}`);
				failed += 1;
				continue;
			}
			const id = target.parseSubmit(created.text);
			let task: TaskView | null = null;
			while (wallMs() - start < perTaskDeadlineMs) {
				const query = target.supportsWait ? "?wait=10" : "";
				const response = await send(target.agent, target.baseUrl, "GET", `${target.taskPath(id)}${query}`, {
					headers: target.headers,
					timeoutMs: 40_000,
				});
				if (response.status !== 200) throw new Error(`GET answered ${response.status}: ${response.text.slice(0, 200)}`);
				const view = target.parseTask(response.text);
				if (view.terminal) {
					task = view;
					break;
				}
				if (!target.supportsWait) await sleep(20);
			}
			if (task === null) {
				lost += 1;
				continue;
			}
			wall.push(wallMs() - start);
			if (task.finishedAt !== undefined) server.push(task.finishedAt - task.createdAt);
			if (task.ok) ok += 1;
			else failed += 1;
		} catch (error) {
			target.checkAlive();
			errors.add(describe(error));
			failed += 1;
		}
		progress.update(`${sample + 1}/${samples}`);
	}
	const phase: IdlePhase = {
		samples,
		ok,
		failed,
		lost,
		errorSamples: errors.samples,
		latencyMs: summarize(wall),
		serverMs: summarize(server),
	};
	progress.done(`${wall.length}/${samples} done, p50 ${phase.latencyMs?.p50 ?? "-"} ms, p99 ${phase.latencyMs?.p99 ?? "-"} ms`);
	return phase;
}
