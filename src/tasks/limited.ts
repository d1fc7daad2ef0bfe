// Example (and test) types for flow control: each waits `ms` milliseconds under one kind of limit,
// so the end-to-end tests can watch the limits from the tasks' own start and finish times
// (test/e2e/flow-control.e2e.test.ts). Real types declare the same options next to their work.
import { z } from "zod";
import { defineTask } from "./define-task";

const Wait = z.strictObject({ ms: z.int().min(0).max(60_000).default(0) });

function wait(ms: number, signal: AbortSignal): Promise<{ waitedMs: number }> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => resolve({ waitedMs: ms }), ms);
		signal.addEventListener("abort", () => {
			clearTimeout(timer);
			reject(signal.reason);
		});
	});
}

export const limitedConcurrency = defineTask({
	type: "limited-concurrency",
	description: "Waits `ms` milliseconds (up to 60 s); at most 3 of these run at once (concurrency: 3).",
	input: Wait,
	concurrency: 3,
	timeoutSeconds: 90,
	run: ({ ms }, { signal }) => wait(ms, signal),
});

export const limitedRate = defineTask({
	type: "limited-rate",
	description: "Waits `ms` milliseconds (up to 60 s); at most 5 of these start per second, evenly spaced (rateLimit: 5 per 1 s).",
	input: Wait,
	rateLimit: { limit: 5, periodSeconds: 1 },
	timeoutSeconds: 90,
	run: ({ ms }, { signal }) => wait(ms, signal),
});

export const limitedKey = defineTask({
	type: "limited-key",
	description: "Waits `ms` milliseconds (up to 60 s); at most 2 of these run at once per concurrencyKey (keyConcurrency: 2).",
	input: Wait,
	keyConcurrency: 2,
	timeoutSeconds: 90,
	run: ({ ms }, { signal }) => wait(ms, signal),
});
