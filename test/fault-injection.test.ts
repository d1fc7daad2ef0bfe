// Faults a real deployment meets: a failed Queue.send, a consumer that fails mid-batch,
// duplicate deliveries, a consumer that dies mid-attempt. Each must end with every accepted task
// reaching a final state and no message acked before its outcome was recorded.
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getTaskStub } from "../src/durable/task-stub";
import { handleBatch } from "../src/queue/consumer";
import { prepareTask, submitTask } from "../src/submit";
import { createTask, inTheFuture, queueMessage, readRecord, taskTypes, waitForTerminal } from "./helpers";

const HOUR = 3600_000;

/** A property of a runtime object, with methods bound to it (they refuse other receivers). */
function passThrough(target: object, prop: string | symbol): unknown {
	const value: unknown = Reflect.get(target, prop);
	return typeof value === "function" ? value.bind(target) : value;
}

/** `env` with one binding's method replaced, the way a failing dependency would behave. */
function withQueueSend(send: Queue["send"]): Env {
	const queue = new Proxy(env.TASK_QUEUE, {
		get: (target, prop) => (prop === "send" ? send : passThrough(target, prop)),
	});
	return { ...env, TASK_QUEUE: queue };
}

/** `env` whose Durable Object stubs fail `method` for the given task ids. */
function withFailingStubMethod(method: "start" | "finish", ids: Set<string>): Env {
	const namespace = new Proxy(env.TASK_OBJECT, {
		get: (target, prop) => {
			if (prop !== "get") return passThrough(target, prop);
			return (id: DurableObjectId) => {
				const stub = target.get(id);
				if (!ids.has(id.toString())) return stub;
				return new Proxy(stub, {
					// RPC stub members are callable without a receiver: no binding needed (or possible).
					get: (s, p): unknown => (p === method ? () => Promise.reject(new Error("injected: object unreachable")) : Reflect.get(s, p)),
				});
			};
		},
	});
	return { ...env, TASK_OBJECT: namespace };
}

describe("fault injection", () => {
	it("a task whose Queue.send failed is still recorded (202) and completes via its alarm", async () => {
		const failingEnv = withQueueSend(() => Promise.reject(new Error("injected: Too Many Requests")));
		const { id } = await submitTask(failingEnv, prepareTask(taskTypes, env, { type: "echo", payload: { survived: true } }));
		const stub = getTaskStub(env, id);
		expect(await readRecord(stub)).toMatchObject({ status: "queued" });
		// No message exists: after REDRIVE_AFTER_SECONDS of silence the object re-sends it.
		await inTheFuture(HOUR, () => runDurableObjectAlarm(stub));
		expect(await waitForTerminal(id)).toMatchObject({ status: "succeeded", result: { survived: true } });
	});

	it("a consumer failing mid-batch acks only messages whose outcome was recorded", async () => {
		const good = await createTask("echo", { n: 1 });
		const unlucky = await createTask("echo", { n: 2 });
		const unstarted = await createTask("echo", { n: 3 });
		const faultyEnv = withFailingStubMethod("finish", new Set([unlucky.id]));
		const faultyStart = withFailingStubMethod("start", new Set([unstarted.id]));
		const messages = [queueMessage({ id: good.id }), queueMessage({ id: unlucky.id })];
		const batch = createMessageBatch("taskflare-tasks", messages);
		const ctx = createExecutionContext();
		await handleBatch(batch, faultyEnv, { taskTypes });
		const result = await getQueueResult(batch, ctx);
		expect(result.explicitAcks).toEqual([messages[0]?.id]);
		expect(result.retryMessages.map((m) => m.msgId)).toEqual([messages[1]?.id]);
		expect(await readRecord(good.stub)).toMatchObject({ status: "succeeded" });
		// The outcome was lost with the call: the task is still running under its lease ...
		expect(await readRecord(unlucky.stub)).toMatchObject({ status: "running", attempts: 1 });

		const second = createMessageBatch("taskflare-tasks", [queueMessage({ id: unstarted.id })]);
		await handleBatch(second, faultyStart, { taskTypes });
		expect((await getQueueResult(second, createExecutionContext())).retryMessages).toHaveLength(1);
		expect(await readRecord(unstarted.stub)).toMatchObject({ status: "queued", attempts: 0 });

		// ... and when the lease runs out the object re-drives it as attempt 2.
		await inTheFuture(HOUR, () => runDurableObjectAlarm(unlucky.stub));
		expect(await waitForTerminal(unlucky.id)).toMatchObject({ status: "succeeded", attempts: 2, result: { n: 2 } });
	});

	it("duplicate messages for one queued task in one batch run it once", async () => {
		const task = await createTask("flaky", { failTimes: 0 });
		const messages = [queueMessage({ id: task.id }), queueMessage({ id: task.id }), queueMessage({ id: task.id })];
		const batch = createMessageBatch("taskflare-tasks", messages);
		await handleBatch(batch, env, { taskTypes });
		const result = await getQueueResult(batch, createExecutionContext());
		expect(result.explicitAcks).toHaveLength(3);
		expect(await readRecord(task.stub)).toMatchObject({ status: "succeeded", attempts: 1, result: { attempts: 1 } });
	});

	it("a duplicate delivered while an attempt holds the lease does not start a second run", async () => {
		const task = await createTask("echo", {});
		expect((await task.stub.start()).kind).toBe("run");
		const batch = createMessageBatch("taskflare-tasks", [queueMessage({ id: task.id })]);
		await handleBatch(batch, env, { taskTypes });
		expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(1);
		expect(await readRecord(task.stub)).toMatchObject({ status: "running", attempts: 1 });
	});

	it("a delivery after the lease expired (before the alarm) starts the next attempt", async () => {
		const task = await createTask("echo", { late: true });
		await task.stub.start();
		const batch = createMessageBatch("taskflare-tasks", [queueMessage({ id: task.id })]);
		await inTheFuture(HOUR, () => handleBatch(batch, env, { taskTypes }));
		expect(await readRecord(task.stub)).toMatchObject({ status: "succeeded", attempts: 2 });
	});
});
