import { z } from "zod";
import { defineTask } from "./define-task";

export const sleep = defineTask({
	type: "sleep",
	description: "Waits `ms` milliseconds (up to 10 minutes), then returns {sleptMs}.",
	input: z.strictObject({ ms: z.int().min(0).max(600_000) }),
	// Long enough for the longest allowed sleep.
	timeoutSeconds: 660,
	backoff: { baseSeconds: 1 },
	run: async ({ ms }, { signal }) => {
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(resolve, ms);
			signal.addEventListener("abort", () => {
				clearTimeout(timer);
				reject(signal.reason);
			});
		});
		return { sleptMs: ms };
	},
});
