// The per-task Durable Object: the state machine, refusals, fencing, alarms (re-drive, lease
// expiry, retention) and surviving eviction. Time is moved with fake Date only.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskObject } from "../src/durable/task-object";
import { canTransition } from "../src/durable/task-state";
import { TaskStatus } from "../src/schemas";
import { api, createTask, expectProblem, inTheFuture, readRecord, waitForTerminal } from "./helpers";

const HOUR = 3600_000;

describe("state machine", () => {
	const allowed = new Set([
		"queued→running",
		"queued→cancelled",
		"queued→failed",
		"running→succeeded",
		"running→failed",
		"running→retrying",
		"retrying→running",
		"retrying→cancelled",
		"retrying→failed",
		"failed→queued",
		"cancelled→queued",
	]);
	it("allows exactly the documented transitions", () => {
		for (const from of TaskStatus.options) {
			for (const to of TaskStatus.options) {
				expect(canTransition(from, to), `${from}→${to}`).toBe(allowed.has(`${from}→${to}`));
			}
		}
	});

	it("refuses to finish an attempt that is not running", async () => {
		const { stub } = await createTask("echo");
		const outcome = { ok: true, resultJson: "1" } as const;
		expect(await stub.finish(1, outcome)).toEqual({ accepted: false, status: "queued" });
		expect(await readRecord(stub)).toMatchObject({ status: "queued", attempts: 0 });
	});

	it("refuses a second start while the lease is held", async () => {
		const { stub } = await createTask("echo");
		expect((await stub.start()).kind).toBe("run");
		expect(await stub.start()).toEqual({ kind: "skip", reason: "leased" });
		expect(await readRecord(stub)).toMatchObject({ status: "running", attempts: 1 });
	});

	it("refuses to cancel a running task, and to start a finished one", async () => {
		const { stub } = await createTask("echo");
		const start = await stub.start();
		expect(await stub.cancel()).toEqual({ kind: "conflict", status: "running" });
		if (start.kind !== "run") throw new Error("expected a run");
		expect(await stub.finish(start.attempt, { ok: true, resultJson: '{"x":1}' })).toEqual({ accepted: true, status: "succeeded" });
		expect(await stub.start()).toEqual({ kind: "skip", reason: "succeeded" });
		expect(await stub.cancel()).toEqual({ kind: "conflict", status: "succeeded" });
	});

	it("throws on an illegal transition asked for directly", async () => {
		const { stub } = await createTask("echo");
		await expect(
			runInDurableObject(stub, (instance: TaskObject): unknown => {
				// transition() is private to the class; tests reach it to prove the guard itself.
				const transition: unknown = Reflect.get(instance, "transition");
				if (typeof transition !== "function") throw new Error("TaskObject has no transition()");
				return Reflect.apply(transition, instance, ["succeeded", {}]);
			}),
		).rejects.toThrow("illegal task transition queued → succeeded");
	});

	it("creates once: a repeated create returns the first record", async () => {
		const { stub } = await createTask("echo", { first: true });
		const again = await stub.create({ type: "echo", payloadJson: '{"second":true}', maxAttempts: 1, timeoutSeconds: 1, delaySeconds: 0 });
		expect(again.kind).toBe("replayed");
		if (again.kind !== "replayed") return;
		expect(JSON.parse(again.recordJson)).toMatchObject({ payload: { first: true }, maxAttempts: 3 });
	});
});

describe("alarm", () => {
	it("re-sends a queued task that shows no sign of life, which then runs", async () => {
		// createTask records without sending: only the alarm can get this task to the queue.
		const { id, stub } = await createTask("echo", { redriven: true });
		expect(await inTheFuture(HOUR, () => runDurableObjectAlarm(stub))).toBe(true);
		const done = await waitForTerminal(id);
		expect(done).toMatchObject({ status: "succeeded", result: { redriven: true } });
	});

	it("only re-arms when woken before anything is due", async () => {
		const { stub } = await createTask("echo");
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(await readRecord(stub)).toMatchObject({ status: "queued", attempts: 0 });
		const alarm = await runInDurableObject(stub, (_: TaskObject, state) => state.storage.getAlarm());
		expect(alarm).toBeGreaterThan(Date.now());
	});

	it("retries an attempt whose lease expired, and refuses the stale attempt's late result", async () => {
		const { id, stub } = await createTask("echo", { v: 2 });
		const stale = await stub.start();
		if (stale.kind !== "run") throw new Error("expected a run");
		// The consumer running attempt 1 "died": its lease (timeout 30 s + 30 s grace) runs out.
		await inTheFuture(HOUR, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toMatchObject({
			attempts: 1,
			error: { name: "LeaseExpiredError" },
		});
		const done = await waitForTerminal(id);
		expect(done).toMatchObject({ status: "succeeded", attempts: 2, result: { v: 2 } });
		expect(await stub.finish(stale.attempt, { ok: true, resultJson: '"late"' })).toEqual({ accepted: false, status: "succeeded" });
		expect(await readRecord(stub)).toMatchObject({ result: { v: 2 } });
	});

	it("fails a task whose last attempt's lease expired", async () => {
		const { stub } = await createTask("echo", {}, { maxAttempts: 1 });
		await stub.start();
		await inTheFuture(HOUR, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toMatchObject({ status: "failed", attempts: 1, error: { name: "LeaseExpiredError" } });
	});

	it("deletes a finished task after RESULT_TTL_SECONDS, then the API answers 404", async () => {
		const { id, stub } = await createTask("echo");
		await stub.cancel();
		// Before the TTL: kept.
		await runDurableObjectAlarm(stub);
		expect(await readRecord(stub)).toMatchObject({ status: "cancelled" });
		// After 7 days (the default TTL): gone, alarm included.
		await inTheFuture(7 * 24 * HOUR + 1000, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toBeNull();
		await expectProblem(await api(`/v1/tasks/${id}`), 404);
		expect(await runDurableObjectAlarm(stub)).toBe(false);
	});
});

describe("storage", () => {
	it("keeps small payloads inline and large ones (and results) in rows of their own", async () => {
		const big = { text: "y".repeat(100_000) };
		const small = await createTask("echo", { n: 1 });
		const large = await createTask("echo", big);
		const rows = (stub: typeof small.stub) =>
			runInDurableObject(stub, (_: TaskObject, state) => [...state.storage.kv.list()].map(([key]) => key).sort());
		expect(await rows(small.stub)).toEqual(["meta"]);
		expect(await rows(large.stub)).toEqual(["meta", "payload"]);
		for (const task of [small, large]) {
			const start = await task.stub.start();
			if (start.kind !== "run") throw new Error("expected a run");
			await task.stub.finish(start.attempt, { ok: true, resultJson: start.payloadJson });
		}
		expect(await rows(large.stub)).toEqual(["meta", "payload", "result"]);
		await evictDurableObject(large.stub);
		expect(await readRecord(large.stub)).toMatchObject({ status: "succeeded", payload: big, result: big });
		expect(await readRecord(small.stub)).toMatchObject({ status: "succeeded", payload: { n: 1 }, result: { n: 1 } });
	});
});

describe("eviction", () => {
	it("resumes with its state after being evicted from memory", async () => {
		const { stub } = await createTask("echo", { kept: 1 });
		const start = await stub.start();
		await evictDurableObject(stub);
		expect(await readRecord(stub)).toMatchObject({ status: "running", attempts: 1, payload: { kept: 1 } });
		if (start.kind !== "run") throw new Error("expected a run");
		expect((await stub.finish(start.attempt, { ok: true, resultJson: '"after"' })).accepted).toBe(true);
		await evictDurableObject(stub);
		expect(await readRecord(stub)).toMatchObject({ status: "succeeded", result: "after" });
	});
});
