// Each task's attemptHistory: one entry per attempt with how it ended, the newest 20, kept in the
// task's meta row (no extra rows).
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskObject } from "../src/durable/task-object";
import { MAX_ATTEMPT_HISTORY } from "../src/schemas";
import { createTask, inTheFuture, readRecord, submit, waitForTerminal } from "./helpers";

const HOUR = 3600_000;
const failure = (name = "Error", retryInSeconds: number | null = 0) =>
	({ ok: false, error: { name, message: `boom (${name})` }, retryInSeconds }) as const;

async function run(stub: Awaited<ReturnType<typeof createTask>>["stub"]) {
	const start = await stub.start();
	if (start.kind !== "run") throw new Error(`expected a run, got ${start.reason}`);
	return start.attempt;
}

describe("attemptHistory", () => {
	it("records every attempt of a task run by the queue: failures with their retry time, then success", async () => {
		const { id } = await submit({ type: "flaky", payload: { failTimes: 2 } });
		const done = await waitForTerminal(id, 25_000);
		expect(done).toMatchObject({ status: "succeeded", attempts: 3 });
		const history = done.attemptHistory;
		expect(history.map((a) => [a.attempt, a.outcome])).toEqual([
			[1, "failed"],
			[2, "failed"],
			[3, "succeeded"],
		]);
		expect(history[0]?.error?.message).toMatch(/attempt 1 of 2 planned failures/);
		for (const attempt of history) {
			expect(attempt.finishedAt).toBeDefined();
			expect(Date.parse(attempt.finishedAt ?? "") - Date.parse(attempt.startedAt)).toBe(attempt.durationMs);
		}
		// The failed ones were followed by another attempt, due no earlier than they finished.
		expect(Date.parse(history[0]?.retryAt ?? "")).toBeGreaterThanOrEqual(Date.parse(history[0]?.finishedAt ?? ""));
		expect(history[2]?.retryAt).toBeUndefined();
		expect(Date.parse(history[1]?.startedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(history[0]?.retryAt ?? ""));
	});

	it("shows the live attempt as running, then how it ended: timed-out, lease-expired, dead-lettered", async () => {
		const { stub } = await createTask("echo", {}, { maxAttempts: 4 });
		expect((await readRecord(stub))?.attemptHistory).toEqual([]);

		const first = await run(stub);
		const live = (await readRecord(stub))?.attemptHistory;
		expect(live?.map((a) => [a.attempt, a.outcome, a.finishedAt, a.durationMs])).toEqual([[1, "running", undefined, undefined]]);
		expect(Date.parse(live?.[0]?.startedAt ?? "")).toBeLessThanOrEqual(Date.now());
		await stub.finish(first, failure("TimeoutError"));

		await run(stub);
		// Its consumer "died": an hour later its lease (30 s timeout + 30 s grace) has run out, and the
		// next start expires it and begins attempt 3. (Called directly rather than through the alarm:
		// the alarm would also re-send the task to the queue, and the test Worker's own consumer could
		// then start an attempt while Date is moved, racing the steps below.)
		await inTheFuture(HOUR, () => run(stub));

		// A dead letter ends a running attempt only once its lease ran out (a live one is healthy).
		expect(await stub.deadLetter()).toEqual({ kind: "ignored", reason: "leased" });
		expect(await inTheFuture(2 * HOUR, async () => (await stub.deadLetter()).kind)).toBe("failed");

		const record = await readRecord(stub);
		expect(record?.status).toBe("failed");
		expect(record?.attemptHistory.map((a) => a.outcome)).toEqual(["timed-out", "lease-expired", "dead-lettered"]);
		expect(record?.attemptHistory[1]).toMatchObject({ attempt: 2, error: { name: "LeaseExpiredError" } });
		expect(Date.parse(record?.attemptHistory[1]?.retryAt ?? "")).toBeGreaterThan(0);
		expect(record?.attemptHistory[2]).toMatchObject({ attempt: 3, error: { name: "DeliveryError" } });
		expect(record?.attemptHistory[2]?.retryAt).toBeUndefined();
	});

	it("keeps the newest 20 attempts, in the one meta row, with long error messages cut", async () => {
		const { stub } = await createTask("echo", {}, { maxAttempts: 25 });
		for (let i = 1; i <= 25; i++) {
			const attempt = await run(stub);
			const long = { ok: false, error: { name: "Error", message: "x".repeat(1000) }, retryInSeconds: i < 25 ? 0 : null } as const;
			await stub.finish(attempt, long);
		}
		const record = await readRecord(stub);
		expect(record).toMatchObject({ status: "failed", attempts: 25 });
		expect(record?.attemptHistory).toHaveLength(MAX_ATTEMPT_HISTORY);
		expect(record?.attemptHistory.map((a) => a.attempt)).toEqual(Array.from({ length: 20 }, (_, i) => i + 6));
		expect(record?.attemptHistory.every((a) => (a.error?.message.length ?? 0) === 300)).toBe(true);
		// The record's own error keeps the whole (already bounded) message.
		expect(record?.error?.message).toHaveLength(1000);
		const keys = await runInDurableObject(stub, (_: TaskObject, state) => [...state.storage.kv.list()].map(([key]) => key));
		expect(keys).toEqual(["meta"]);
	});
});
