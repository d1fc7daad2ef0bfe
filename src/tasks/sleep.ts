import { z } from "zod";
import { defineTask } from "./define-task";

export const sleep = defineTask({
	type: "sleep",
	description: "Waits `ms` milliseconds (up to 10 minutes), reporting progress 0..100 on the way, then returns {sleptMs}.",
	input: z.strictObject({ ms: z.int().min(0).max(600_000) }),
	// Long enough for the longest allowed sleep.
	timeoutSeconds: 660,
	backoff: { baseSeconds: 1 },
	run: async ({ ms }, { signal, progress }) => {
		const steps = 10;
		for (let step = 1; step <= steps; step++) {
			await new Promise<void>((resolve, reject) => {
				const timer = setTimeout(resolve, ms / steps);
				signal.addEventListener("abort", () => {
					clearTimeout(timer);
					reject(signal.reason);
				});
			});
			progress((step * 100) / steps);
		}
		return { sleptMs: ms };
	},
});
