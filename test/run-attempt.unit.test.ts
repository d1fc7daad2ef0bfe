// One attempt of a handler: results, thrown errors, timeouts, oversized results, backoff.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { runAttempt } from "../src/queue/run-attempt";
import { backoffSeconds, defineTask, NonRetryableError } from "../src/tasks/define-task";

const attempt = (payload: unknown, n = 1) => ({ id: "t", attempt: n, maxAttempts: 3, payloadJson: JSON.stringify(payload) });

describe("runAttempt", () => {
	it("passes the parsed input and context to the handler", async () => {
		const task = defineTask({
			type: "t",
			description: "",
			input: z.object({ n: z.int().default(5) }),
			run: (input, ctx) => ({ n: input.n, attempt: ctx.attempt, id: ctx.id, aborted: ctx.signal.aborted }),
		});
		expect(await runAttempt(task, attempt({}, 2), env)).toEqual({
			ok: true,
			resultJson: JSON.stringify({ n: 5, attempt: 2, id: "t", aborted: false }),
		});
	});

	it("stores undefined as null", async () => {
		const task = defineTask({ type: "t", description: "", input: z.unknown(), run: () => undefined });
		expect(await runAttempt(task, attempt(null), env)).toEqual({ ok: true, resultJson: "null" });
	});

	it("times out with TimeoutError and aborts the signal", async () => {
		let signal: AbortSignal | undefined;
		const task = defineTask({
			type: "slow",
			description: "",
			input: z.unknown(),
			timeoutSeconds: 0.05,
			run: (_, ctx) => {
				signal = ctx.signal;
				return new Promise<void>(() => {});
			},
		});
		const outcome = await runAttempt(task, attempt(null), env);
		expect(outcome).toMatchObject({ ok: false, error: { name: "TimeoutError" } });
		expect(outcome.ok === false && outcome.retryInSeconds).toBeGreaterThanOrEqual(1);
		expect(signal?.aborted).toBe(true);
	});

	it("fails without retry on NonRetryableError", async () => {
		const task = defineTask({
			type: "t",
			description: "",
			input: z.unknown(),
			run: () => {
				throw new NonRetryableError("no");
			},
		});
		expect(await runAttempt(task, attempt(null), env)).toEqual({
			ok: false,
			error: { name: "NonRetryableError", message: "no" },
			retryInSeconds: null,
		});
	});

	it("fails without retry when the result is over 1 MiB", async () => {
		const task = defineTask({ type: "t", description: "", input: z.unknown(), run: () => "x".repeat(1024 * 1024) });
		const outcome = await runAttempt(task, attempt(null), env);
		expect(outcome).toMatchObject({ ok: false, error: { name: "ResultTooLargeError" }, retryInSeconds: null });
	});

	it("fails without retry when the result is not JSON", async () => {
		// A result that is not JSON, on purpose (the types forbid it).
		// oxlint-disable-next-line typescript/no-unsafe-type-assertion
		const task = defineTask({ type: "t", description: "", input: z.unknown(), run: () => ({ big: 1n }) as never });
		expect(await runAttempt(task, attempt(null), env)).toMatchObject({ ok: false, retryInSeconds: null });
	});

	it("keeps thrown non-Error values and long messages readable", async () => {
		const task = defineTask({
			type: "t",
			description: "",
			input: z.unknown(),
			run: () => {
				throw "x".repeat(5000);
			},
		});
		const outcome = await runAttempt(task, attempt(null), env);
		expect(outcome.ok === false && outcome.error.message.length).toBe(1000);
	});
});

describe("backoffSeconds", () => {
	const backoff = { baseSeconds: 2, maxSeconds: 60 };
	it("doubles per attempt, with jitter between half and all of the step", () => {
		expect([1, 2, 3, 4].map((n) => backoffSeconds(backoff, n, () => 1))).toEqual([2, 4, 8, 16]);
		expect([1, 2, 3, 4].map((n) => backoffSeconds(backoff, n, () => 0))).toEqual([1, 2, 4, 8]);
	});
	it("is capped by maxSeconds and never below 1 s", () => {
		expect(backoffSeconds(backoff, 30, () => 1)).toBe(60);
		expect(backoffSeconds({ baseSeconds: 0.1, maxSeconds: 1 }, 1, () => 0)).toBe(1);
	});
});
