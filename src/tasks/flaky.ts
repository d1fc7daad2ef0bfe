import { z } from "zod";
import { defineTask } from "./define-task";

export const flaky = defineTask({
	type: "flaky",
	description: "Fails its first `failTimes` attempts with a retryable error, then returns {attempts}.",
	input: z.strictObject({
		failTimes: z.int().min(0),
		message: z.string().max(1000).optional(),
	}),
	maxAttempts: 5,
	backoff: { baseSeconds: 1, maxSeconds: 2 },
	run: ({ failTimes, message }, { attempt }) => {
		if (attempt <= failTimes) throw new Error(message ?? `flaky: attempt ${attempt} of ${failTimes} planned failures`);
		return { attempts: attempt };
	},
});
