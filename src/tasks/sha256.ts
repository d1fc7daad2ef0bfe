import { z } from "zod";
import { toHex } from "../hex";
import { defineTask } from "./define-task";

export const sha256 = defineTask({
	type: "sha256",
	description: "Iterated SHA-256 of the UTF-8 `text`: hashes the text, then the digest, `iterations` times in all.",
	input: z.strictObject({
		text: z.string(),
		iterations: z.int().min(1).max(1_000_000).default(1),
	}),
	timeoutSeconds: 120,
	// CPU-bound: one at a time per consumer isolate. More would only share the one thread (each
	// attempt's timeout would count the others' work) and one invocation's CPU limit.
	batchConcurrency: 1,
	backoff: { baseSeconds: 1 },
	run: async ({ text, iterations }, { signal }) => {
		let digest: ArrayBuffer = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
		for (let i = 1; i < iterations; i++) {
			if (i % 10_000 === 0) {
				// Give the isolate back now and then (other requests share it), which also lets the
				// attempt's timeout fire; stop once it has.
				await new Promise((resolve) => setTimeout(resolve, 0));
				signal.throwIfAborted();
			}
			digest = await crypto.subtle.digest("SHA-256", digest);
		}
		return { hex: toHex(digest) };
	},
});
