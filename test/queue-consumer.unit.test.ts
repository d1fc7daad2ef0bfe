// The consumer called directly with hand-made batches (createMessageBatch + getQueueResult):
// which messages are acked or retried, and what the task's Durable Object recorded.
import { createExecutionContext, createMessageBatch, getQueueResult, type MessageBatchMessage } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { createTask, queueMessage, readRecord } from "./helpers";

async function consume(messages: MessageBatchMessage[], queue = "taskflare-tasks") {
	const batch = createMessageBatch(queue, messages);
	const ctx = createExecutionContext();
	await worker.queue(batch, env);
	return getQueueResult(batch, ctx);
}

describe("queue consumer (unit)", () => {
	it("runs every task of a batch and acks each message after recording", async () => {
		const a = await createTask("echo", { a: 1 });
		const b = await createTask("sha256", { text: "abc" });
		const messages = [queueMessage({ id: a.id }), queueMessage({ id: b.id })];
		const result = await consume(messages);
		expect(result.outcome).toBe("ok");
		expect(result.ackAll).toBe(false);
		expect(result.retryBatch.retry).toBe(false);
		expect(result.retryMessages).toEqual([]);
		expect(result.explicitAcks.sort()).toEqual(messages.map((m) => m.id).sort());
		expect(await readRecord(a.stub)).toMatchObject({ status: "succeeded", result: { a: 1 }, attempts: 1 });
		expect(await readRecord(b.stub)).toMatchObject({
			status: "succeeded",
			result: { hex: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		});
	});

	it("retries a retryable failure with a backoff delay, then succeeds", async () => {
		const task = await createTask("flaky", { failTimes: 1, message: "not yet" });
		const first = queueMessage({ id: task.id });
		const batch = createMessageBatch("taskflare-tasks", [first]);
		// getQueueResult does not report retry delays, so watch the call itself.
		const [message] = batch.messages;
		if (!message) throw new Error("createMessageBatch returned no message");
		const retry = vi.spyOn(message, "retry");
		const ctx = createExecutionContext();
		await worker.queue(batch, env);
		const result = await getQueueResult(batch, ctx);
		expect(result.explicitAcks).toEqual([]);
		expect(result.retryMessages.map((m) => m.msgId)).toEqual([first.id]);
		// flaky: base 1 s, so the first retry waits 1 s (equal jitter, rounded, at least 1).
		expect(retry).toHaveBeenCalledWith({ delaySeconds: 1 });
		expect(await readRecord(task.stub)).toMatchObject({
			status: "retrying",
			attempts: 1,
			error: { name: "Error", message: "not yet" },
		});

		const second = await consume([queueMessage({ id: task.id }, 2)]);
		expect(second.explicitAcks).toHaveLength(1);
		expect(await readRecord(task.stub)).toMatchObject({ status: "succeeded", attempts: 2, result: { attempts: 2 } });
	});

	it("fails a non-retryable error at once and acks", async () => {
		const task = await createTask("fail", { message: "bad input" });
		const result = await consume([queueMessage({ id: task.id })]);
		expect(result.explicitAcks).toHaveLength(1);
		expect(result.retryMessages).toEqual([]);
		const record = await readRecord(task.stub);
		expect(record).toMatchObject({ status: "failed", attempts: 1, error: { name: "NonRetryableError", message: "bad input" } });
		expect(record?.result).toBeUndefined();
	});

	it("fails once the attempts are used up", async () => {
		const task = await createTask("fail", { message: "always", retryable: true }, { maxAttempts: 2 });
		expect((await consume([queueMessage({ id: task.id })])).retryMessages).toHaveLength(1);
		const last = await consume([queueMessage({ id: task.id }, 2)]);
		expect(last.explicitAcks).toHaveLength(1);
		expect(last.retryMessages).toEqual([]);
		expect(await readRecord(task.stub)).toMatchObject({ status: "failed", attempts: 2, error: { message: "always" } });
	});

	it("handles each message on its own: one acked, one retried in the same batch", async () => {
		const ok = await createTask("echo", {});
		const flaky = await createTask("flaky", { failTimes: 5 });
		const messages = [queueMessage({ id: ok.id }), queueMessage({ id: flaky.id })];
		const result = await consume(messages);
		expect(result.explicitAcks).toEqual([messages[0]?.id]);
		expect(result.retryMessages.map((m) => m.msgId)).toEqual([messages[1]?.id]);
	});

	it("does not re-run a finished task on duplicate delivery", async () => {
		const task = await createTask("flaky", { failTimes: 0 });
		await consume([queueMessage({ id: task.id })]);
		const duplicate = await consume([queueMessage({ id: task.id })]);
		expect(duplicate.explicitAcks).toHaveLength(1);
		// flaky returns the attempt number: still the first attempt's result.
		expect(await readRecord(task.stub)).toMatchObject({ status: "succeeded", attempts: 1, result: { attempts: 1 } });
	});

	it("never runs a cancelled task, even when its message arrives later", async () => {
		const task = await createTask("echo", { x: 1 });
		expect((await task.stub.cancel()).kind).toBe("cancelled");
		const result = await consume([queueMessage({ id: task.id })]);
		expect(result.explicitAcks).toHaveLength(1);
		expect(await readRecord(task.stub)).toMatchObject({ status: "cancelled", attempts: 0 });
	});

	it("drops messages that name no task", async () => {
		const messages = [
			queueMessage("not an object"),
			queueMessage({ id: 42 }),
			queueMessage({ id: "c".repeat(64) }),
			queueMessage({ id: "../etc" }),
		];
		const result = await consume(messages);
		expect(result.explicitAcks.sort()).toEqual(messages.map((m) => m.id).sort());
	});

	it("fails a task whose type is no longer registered", async () => {
		const task = await createTask("retired-type", {});
		await consume([queueMessage({ id: task.id })]);
		expect(await readRecord(task.stub)).toMatchObject({ status: "failed", error: { name: "UnknownTaskTypeError" } });
	});

	it("fails a task whose stored payload no longer matches its type", async () => {
		const task = await createTask("sleep", { seconds: 1 });
		await consume([queueMessage({ id: task.id })]);
		expect(await readRecord(task.stub)).toMatchObject({ status: "failed", error: { name: "NonRetryableError" } });
	});
});

describe("dead-letter queue consumer (unit)", () => {
	it("marks a dead-lettered task failed with DeliveryError", async () => {
		const queued = await createTask("echo", {});
		const result = await consume([queueMessage({ id: queued.id })], "taskflare-tasks-dlq");
		expect(result.explicitAcks).toHaveLength(1);
		const record = await readRecord(queued.stub);
		expect(record).toMatchObject({ status: "failed", error: { name: "DeliveryError" } });
		expect(record?.finishedAt).toBeDefined();
	});

	it("leaves a task that already ended alone", async () => {
		const done = await createTask("echo", { v: 1 });
		await consume([queueMessage({ id: done.id })]);
		await consume([queueMessage({ id: done.id })], "taskflare-tasks-dlq");
		expect(await readRecord(done.stub)).toMatchObject({ status: "succeeded", result: { v: 1 } });
	});
});
