// Queue batch sizes and durations, parsed from wrangler's log.
import { existsSync, readFileSync } from "node:fs";
import { type Summary, summarize } from "./stats.ts";

export type QueueLogStats = { batches: number; messages: number; batchSize: Summary | null; batchMs: Summary | null };

/** wrangler dev logs each consumer invocation as `QUEUE <queue> <acked>/<size> (<duration>ms)`. */
export function queueLogStats(logFile: string): QueueLogStats | null {
	if (!existsSync(logFile)) return null;
	const sizes: number[] = [];
	const durations: number[] = [];
	for (const match of readFileSync(logFile, "utf8").matchAll(/QUEUE \S+ (\d+)\/(\d+) \((\d+)ms\)/g)) {
		sizes.push(Number(match[2]));
		durations.push(Number(match[3]));
	}
	if (sizes.length === 0) return null;
	return {
		batches: sizes.length,
		messages: sizes.reduce((sum, size) => sum + size, 0),
		batchSize: summarize(sizes),
		batchMs: summarize(durations),
	};
}
