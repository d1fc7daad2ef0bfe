// Memory of the workerd processes behind a `wrangler dev` (its process group holds wrangler, the
// proxy workerd and the workerd running the Worker and its Durable Objects), read from /proc, so
// e2e tests can check that a hostile request does not make the runtime buffer what it should not.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";

/** Whether this machine exposes /proc (Linux); memory checks are skipped elsewhere. */
export const canReadProcessMemory = existsSync("/proc/self/status");

/** Resident memory (VmRSS) in bytes of every workerd process in process group `pgid`, summed. */
export function workerdRssBytes(pgid: number): number {
	let total = 0;
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			// "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
			const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
			const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
			if (pgrp !== pgid || comm !== "workerd") continue;
			const rss = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"));
			total += Number(rss?.[1] ?? 0) * 1024;
		} catch {
			// The process exited while we looked.
		}
	}
	return total;
}

/**
 * Samples workerd's memory every `intervalMs` while `work` runs; returns its result with the
 * memory before and the highest reading during it (bytes).
 */
export async function withPeakRss<T>(
	pgid: number,
	work: () => Promise<T>,
	intervalMs = 50,
): Promise<{ result: T; beforeBytes: number; peakBytes: number }> {
	const beforeBytes = workerdRssBytes(pgid);
	let peakBytes = beforeBytes;
	let running = true;
	const sampler = (async () => {
		while (running) {
			peakBytes = Math.max(peakBytes, workerdRssBytes(pgid));
			await delay(intervalMs);
		}
	})();
	try {
		const result = await work();
		peakBytes = Math.max(peakBytes, workerdRssBytes(pgid));
		return { result, beforeBytes, peakBytes };
	} finally {
		running = false;
		await sampler;
	}
}

export const MB = 1_000_000;
