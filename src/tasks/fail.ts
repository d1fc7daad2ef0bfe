import { z } from "zod";
import { defineTask, NonRetryableError } from "./define-task";

export const fail = defineTask({
	type: "fail",
	description: "Always throws `message`; retried (until maxAttempts) only when `retryable` is true.",
	input: z.strictObject({
		message: z.string().max(1000),
		retryable: z.boolean().default(false),
	}),
	backoff: { baseSeconds: 1, maxSeconds: 2 },
	run: ({ message, retryable }) => {
		throw retryable ? new Error(message) : new NonRetryableError(message);
	},
});
