// POST /v1/tasks/{id}/retry and DELETE /v1/tasks/{id}: the state changes, the fresh attempt budget,
// fencing of attempts from before a retry, refusals (409/404), and what a delete removes.
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { TaskObject } from "../src/durable/task-object";
import { getTaskStub } from "../src/durable/task-stub";
import worker from "../src/index";
import { TaskPage, TaskRecord } from "../src/schemas";
import { api, createTask, expectProblem, inTheFuture, queueMessage, readRecord, submit, waitForTerminal } from "./helpers";

const HOUR = 3600_000;
const retryable = { ok: false, error: { name: "Error", message: "try again" }, retryInSeconds: 0 } as const;

async function run(stub: Awaited<ReturnType<typeof createTask>>["stub"]) {
	const start = await stub.start();
	if (start.kind !== "run") throw new Error(`expected a run, got ${start.reason}`);
	return start;
}

async function retry(id: string) {
	const response = await api(`/v1/tasks/${id}/retry`, { method: "POST" });
	expect(response.status, await response.clone().text()).toBe(202);
	expect(response.headers.get("Location")).toBe(`/v1/tasks/${id}`);
	return TaskRecord.parse(await response.json());
}

describe("POST /v1/tasks/{id}/retry", () => {
	it("puts a failed task back to queued under the same id, keeping its history, and runs it again", async () => {
		// flaky fails its first attempt; with maxAttempts 1 that fails the task.
		const { id } = await submit({ type: "flaky", payload: { failTimes: 1 }, maxAttempts: 1 });
		const failed = await waitForTerminal(id);
		expect(failed).toMatchObject({ status: "failed", attempts: 1 });

		const queued = await retry(id);
		expect(queued).toMatchObject({ id, status: "queued", attempts: 1, maxAttempts: 2 });
		expect(queued.error).toBeUndefined();
		expect(queued.finishedAt).toBeUndefined();
		expect(Date.parse(queued.retriedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(failed.finishedAt ?? ""));
		expect(queued.attemptHistory).toEqual(failed.attemptHistory);

		const done = await waitForTerminal(id);
		expect(done).toMatchObject({ status: "succeeded", attempts: 2, result: { attempts: 2 } });
		expect(done.attemptHistory.map((a) => [a.attempt, a.outcome])).toEqual([
			[1, "failed"],
			[2, "succeeded"],
		]);
	});

	it("retries a cancelled task", async () => {
		const { id } = await submit({ type: "echo", payload: { back: true }, delaySeconds: 3600 });
		expect((await api(`/v1/tasks/${id}/cancel`, { method: "POST" })).status).toBe(200);
		const queued = await retry(id);
		// A retry runs now: the old delay is not kept.
		expect(queued.runAt).toBeUndefined();
		expect(await waitForTerminal(id)).toMatchObject({ status: "succeeded", result: { back: true } });
	});

	it("gives the task a fresh budget of maxAttempts attempts", async () => {
		const { stub } = await createTask("echo", {}, { maxAttempts: 2 });
		await stub.finish((await run(stub)).attempt, retryable);
		await stub.finish((await run(stub)).attempt, retryable);
		expect(await readRecord(stub)).toMatchObject({ status: "failed", attempts: 2 });

		expect((await stub.retry()).kind).toBe("retried");
		const third = await run(stub);
		// ctx.attempt keeps counting; ctx.maxAttempts is this run's last attempt number.
		expect(third).toMatchObject({ attempt: 3, maxAttempts: 4 });
		expect(await stub.finish(third.attempt, retryable)).toEqual({ accepted: true, status: "retrying" });
		const fourth = await run(stub);
		expect(await stub.finish(fourth.attempt, retryable)).toEqual({ accepted: true, status: "failed" });
		expect(await readRecord(stub)).toMatchObject({ status: "failed", attempts: 4, maxAttempts: 4 });
	});

	it("refuses a late outcome or progress from an attempt of the run before the retry", async () => {
		const { stub } = await createTask("echo", { v: 1 }, { maxAttempts: 1 });
		const stale = await run(stub);
		// Its consumer went silent: the lease expires and, with no attempts left, the task fails.
		await inTheFuture(HOUR, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toMatchObject({ status: "failed", error: { name: "LeaseExpiredError" } });

		expect((await stub.retry()).kind).toBe("retried");
		// The stale attempt reports while the task is queued again …
		expect(await stub.finish(stale.attempt, { ok: true, resultJson: '"stale"' })).toEqual({ accepted: false, status: "queued" });
		expect(await stub.progress(stale.attempt, "50")).toBe(false);
		// … and while the new run's attempt is running.
		const fresh = await run(stub);
		expect(fresh.attempt).toBe(2);
		expect(await stub.finish(stale.attempt, { ok: true, resultJson: '"stale"' })).toEqual({ accepted: false, status: "running" });
		expect(await stub.progress(stale.attempt, "60")).toBe(false);
		expect(await stub.finish(fresh.attempt, { ok: true, resultJson: '"fresh"' })).toEqual({ accepted: true, status: "succeeded" });
		const record = await readRecord(stub);
		expect(record).toMatchObject({ status: "succeeded", result: "fresh", attempts: 2 });
		expect(record?.progress).toBeUndefined();
		expect(record?.attemptHistory.map((a) => [a.attempt, a.outcome])).toEqual([
			[1, "lease-expired"],
			[2, "succeeded"],
		]);
	});

	it("re-arms the alarm, so a retried task runs even if its message is lost", async () => {
		const { id, stub } = await createTask("echo", { redriven: true });
		await stub.cancel();
		// stub.retry() sends nothing (the route does): only the alarm can get the task to the queue.
		expect((await stub.retry()).kind).toBe("retried");
		const alarm = await runInDurableObject(stub, (_: TaskObject, state) => state.storage.getAlarm());
		expect(alarm).toBeGreaterThan(Date.now());
		await inTheFuture(HOUR, () => runDurableObjectAlarm(stub));
		expect(await waitForTerminal(id)).toMatchObject({ status: "succeeded", result: { redriven: true } });
	});

	it("answers 409 unless the task is failed or cancelled, 404 for unknown or malformed ids", async () => {
		const queued = await createTask("echo");
		let problem = await expectProblem(await api(`/v1/tasks/${queued.id}/retry`, { method: "POST" }), 409);
		expect(problem.detail).toMatch(/queued/);

		await run(queued.stub);
		problem = await expectProblem(await api(`/v1/tasks/${queued.id}/retry`, { method: "POST" }), 409);
		expect(problem.detail).toMatch(/running/);
		expect(await readRecord(queued.stub)).toMatchObject({ status: "running", attempts: 1 });

		const { id } = await submit({ type: "echo" });
		await waitForTerminal(id);
		await expectProblem(await api(`/v1/tasks/${id}/retry`, { method: "POST" }), 409);

		await expectProblem(await api(`/v1/tasks/${"e".repeat(64)}/retry`, { method: "POST" }), 404);
		await expectProblem(await api(`/v1/tasks/not-an-id/retry`, { method: "POST" }), 404);
		await expectProblem(await api(`/v1/tasks/${id}/retry`, { method: "POST", token: null }), 401);
	});

	it("ignores a dead letter of a message sent before the retry, not one sent after it", async () => {
		const { stub } = await createTask("echo");
		await stub.cancel();
		const before = Date.now() - 1;
		expect((await stub.retry()).kind).toBe("retried");
		await stub.deadLetter(before);
		expect(await readRecord(stub)).toMatchObject({ status: "queued" });
		await stub.deadLetter(Date.now() + 1);
		expect(await readRecord(stub)).toMatchObject({ status: "failed", error: { name: "DeliveryError" } });
	});

	it("the dead-letter consumer passes each message's send time", async () => {
		const { id, stub } = await createTask("echo");
		await stub.cancel();
		const sentBeforeRetry = { ...queueMessage({ id }), timestamp: new Date(Date.now() - 1000) };
		expect((await stub.retry()).kind).toBe("retried");
		const batch = createMessageBatch("taskflare-tasks-dlq", [sentBeforeRetry]);
		const ctx = createExecutionContext();
		await worker.queue(batch, env);
		expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([sentBeforeRetry.id]);
		expect(await readRecord(stub)).toMatchObject({ status: "queued" });
	});

	it("with ifStatus, acts only on those statuses", async () => {
		const { stub } = await createTask("echo");
		await stub.cancel();
		expect(await stub.retry({ ifStatus: ["failed"] })).toEqual({ kind: "conflict", status: "cancelled" });
		expect((await stub.retry({ ifStatus: ["failed", "cancelled"] })).kind).toBe("retried");
	});
});

describe("the task index", () => {
	it("lists a retried task as queued again, and a deleted one no more", async () => {
		const tag = `retry-delete:${crypto.randomUUID()}`;
		const { id } = await submit({ type: "fail", payload: { message: "no" }, tags: [tag] });
		await waitForTerminal(id);
		const listed = async () => TaskPage.parse(await (await api(`/v1/tasks?tag=${encodeURIComponent(tag)}`)).json()).tasks;
		await vi.waitUntil(async () => (await listed())[0]?.status === "failed", { timeout: 10_000, interval: 50 });
		await retry(id);
		// Listed as it changes: queued (or already further along), then failed again.
		await vi.waitUntil(async () => (await listed())[0]?.attempts === 2 && (await listed())[0]?.status === "failed", {
			timeout: 10_000,
			interval: 50,
		});
		expect((await api(`/v1/tasks/${id}`, { method: "DELETE" })).status).toBe(204);
		// Removed by the delete itself, not later.
		expect(await listed()).toEqual([]);
	});
});

describe("DELETE /v1/tasks/{id}", () => {
	it("removes a finished task's record, payload, result and alarm now; then it is 404", async () => {
		const big = { text: "z".repeat(100_000) };
		const { id } = await submit({ type: "echo", payload: big });
		expect(await waitForTerminal(id)).toMatchObject({ status: "succeeded", result: big });
		const response = await api(`/v1/tasks/${id}`, { method: "DELETE" });
		expect(response.status).toBe(204);
		expect(await response.text()).toBe("");

		await expectProblem(await api(`/v1/tasks/${id}`), 404);
		const stub = getTaskStub(env, id);
		const stored = await runInDurableObject(stub, async (_: TaskObject, state) => ({
			keys: [...state.storage.kv.list()].length,
			alarm: await state.storage.getAlarm(),
		}));
		expect(stored).toEqual({ keys: 0, alarm: null });
		// Deleting again, or retrying, finds nothing.
		await expectProblem(await api(`/v1/tasks/${id}`, { method: "DELETE" }), 404);
		await expectProblem(await api(`/v1/tasks/${id}/retry`, { method: "POST" }), 404);
	});

	it("deletes failed and cancelled tasks too", async () => {
		const { id: failedId } = await submit({ type: "fail", payload: { message: "no" } });
		expect(await waitForTerminal(failedId)).toMatchObject({ status: "failed" });
		expect((await api(`/v1/tasks/${failedId}`, { method: "DELETE" })).status).toBe(204);
		const cancelled = await createTask("echo");
		await cancelled.stub.cancel();
		expect((await api(`/v1/tasks/${cancelled.id}`, { method: "DELETE" })).status).toBe(204);
		expect(await readRecord(cancelled.stub)).toBeNull();
	});

	it("answers 409 while the task is not final, and keeps it", async () => {
		const { id, stub } = await createTask("echo");
		let problem = await expectProblem(await api(`/v1/tasks/${id}`, { method: "DELETE" }), 409);
		expect(problem.detail).toMatch(/queued/);
		await run(stub);
		problem = await expectProblem(await api(`/v1/tasks/${id}`, { method: "DELETE" }), 409);
		expect(problem.detail).toMatch(/running/);
		expect(await readRecord(stub)).toMatchObject({ status: "running" });
		await expectProblem(await api(`/v1/tasks/${"f".repeat(64)}`, { method: "DELETE" }), 404);
		await expectProblem(await api(`/v1/tasks/${id}`, { method: "DELETE", token: null }), 401);
	});
});
