// The consumer writes a batch's task index rows per shard (queue/index-batch.ts): one call per
// shard, messages acked only after their rows were written; a failed batched write is repaired by
// the tasks' alarms; a consumer that died between `finish` and the shard write is repaired by the
// message's redelivery, or else by the shard's hourly re-check of rows that stopped changing.
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readConfig } from "../src/config";
import { indexShardStub, shardOf } from "../src/durable/task-index-stub";
import type { TaskObject } from "../src/durable/task-object";
import { newTaskStub } from "../src/durable/task-stub";
import { handleBatch } from "../src/queue/consumer";
import { TypeGates } from "../src/queue/type-gates";
import { TaskPage, type TaskSummary } from "../src/schemas";
import { api, inTheFuture, queueMessage, readRecord, taskTypes } from "./helpers";

const uniqueTag = (name: string) => `${name}:${crypto.randomUUID()}`;

async function listed(tag: string): Promise<TaskSummary[]> {
	const response = await api(`/v1/tasks?tag=${encodeURIComponent(tag)}&limit=200`);
	expect(response.status).toBe(200);
	return TaskPage.parse(await response.json()).tasks;
}

/** Echo tasks recorded directly in their objects (listed as queued; nothing is sent to the queue). */
async function createTasks(n: number, tag: string) {
	return Promise.all(
		Array.from({ length: n }, async () => {
			const { id, stub } = newTaskStub(env);
			await stub.create({ type: "echo", payloadJson: "{}", maxAttempts: 3, timeoutSeconds: 30, delaySeconds: 0, tags: [tag] });
			return { id, stub };
		}),
	);
}

/** `env` whose task index stubs count (or refuse) putMany; everything else is the real thing. */
function watchedIndex(refuse = false) {
	const calls: number[] = [];
	const index = {
		getByName: (name: string) => {
			const shard = env.TASK_INDEX.getByName(name);
			return {
				putMany: (...args: Parameters<typeof shard.putMany>) => {
					calls.push(args[0].length);
					return refuse ? Promise.reject(new Error("injected: index unreachable")) : shard.putMany(...args);
				},
			};
		},
	};
	const watched = new Proxy(env, {
		get: (target, prop): unknown => (prop === "TASK_INDEX" ? index : Reflect.get(target, prop)),
	});
	return { env: watched, calls };
}

const indexBehind = (stub: DurableObjectStub<TaskObject>) =>
	runInDurableObject(stub, (_: TaskObject, state) => {
		const meta: unknown = state.storage.kv.get("meta");
		return typeof meta === "object" && meta !== null && Reflect.get(meta, "indexBehind") === true;
	});

describe("consumer-batched task index writes", () => {
	it("write a batch's final statuses with one call per shard before acking", async () => {
		const tag = uniqueTag("batched");
		const tasks = await createTasks(24, tag);
		expect((await listed(tag)).map((t) => t.status)).toEqual(Array(24).fill("queued"));
		const watched = watchedIndex();
		const batch = createMessageBatch(
			"taskflare-tasks",
			tasks.map((task) => queueMessage({ id: task.id, type: "echo" })),
		);
		await handleBatch(batch, watched.env, { taskTypes, gates: new TypeGates() });
		expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(24);
		// Listed as succeeded once the batch is acked (not 500 ms later by each object).
		expect((await listed(tag)).map((t) => t.status)).toEqual(Array(24).fill("succeeded"));
		const shards = new Set(tasks.map((task) => shardOf(task.id, readConfig(env).INDEX_SHARDS)));
		expect(watched.calls.length).toBe(shards.size);
		expect(watched.calls.reduce((a, b) => a + b, 0)).toBe(24);
	});

	it("a failed batched write is reported to the tasks, whose alarms repair their rows", async () => {
		const tag = uniqueTag("batched-failed");
		const tasks = await createTasks(3, tag);
		const broken = watchedIndex(true);
		const batch = createMessageBatch(
			"taskflare-tasks",
			tasks.map((task) => queueMessage({ id: task.id, type: "echo" })),
		);
		await handleBatch(batch, broken.env, { taskTypes, gates: new TypeGates() });
		// The tasks ran and the messages were acked: the index never fails a task.
		expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(3);
		expect(broken.calls.length).toBeGreaterThan(0);
		for (const task of tasks) {
			expect(await readRecord(task.stub)).toMatchObject({ status: "succeeded" });
			expect(await indexBehind(task.stub)).toBe(true);
		}
		expect((await listed(tag)).map((t) => t.status)).toEqual(["queued", "queued", "queued"]);
		for (const task of tasks) await runDurableObjectAlarm(task.stub);
		expect((await listed(tag)).map((t) => t.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
		for (const task of tasks) expect(await indexBehind(task.stub)).toBe(false);
	});
});

describe("a consumer that died between finish and the index write", () => {
	/** What a consumer does before it dies: starts and finishes the attempt, writes no row. */
	async function runWithoutIndexing(stub: DurableObjectStub<TaskObject>) {
		const start = await stub.start({ indexedByCaller: true });
		expect(start).toMatchObject({ kind: "run", index: { entry: { status: "running" } } });
		const finished = await stub.finish(1, { ok: true, resultJson: "1" }, { indexedByCaller: true });
		expect(finished).toMatchObject({ accepted: true, status: "succeeded", index: { entry: { status: "succeeded" } } });
	}

	it("is repaired by the message's redelivery (the task's object answers it with its summary)", async () => {
		const tag = uniqueTag("crash-redelivered");
		const [task] = await createTasks(1, tag);
		if (!task) throw new Error("one task expected");
		await runWithoutIndexing(task.stub);
		expect(await listed(tag)).toMatchObject([{ id: task.id, status: "queued" }]);
		// Never acked, so Queues delivers it again.
		const batch = createMessageBatch("taskflare-tasks", [queueMessage({ id: task.id, type: "echo" }, 2)]);
		await handleBatch(batch, env, { taskTypes, gates: new TypeGates() });
		expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(1);
		expect(await listed(tag)).toMatchObject([{ id: task.id, status: "succeeded", attempts: 1 }]);
	});

	it("without a redelivery, is repaired by the shard's hourly re-check within two hours", async () => {
		const tag = uniqueTag("crash-lost");
		const [task, waiting] = await createTasks(2, tag);
		if (!task || !waiting) throw new Error("two tasks expected");
		await runWithoutIndexing(task.stub);
		const shard = indexShardStub(env, shardOf(task.id, readConfig(env).INDEX_SHARDS));
		// Within the hour the row is not re-checked yet ...
		await inTheFuture(30 * 60_000, () => runDurableObjectAlarm(shard));
		expect((await listed(tag)).find((t) => t.id === task.id)).toMatchObject({ status: "queued" });
		// ... after it, the shard asks the task's object and stores what it answers.
		await inTheFuture(2 * 3600_000, () => runDurableObjectAlarm(shard));
		expect((await listed(tag)).find((t) => t.id === task.id)).toMatchObject({ status: "succeeded", attempts: 1 });
		// A task still waiting keeps its row as it is.
		await inTheFuture(2 * 3600_000, () => runDurableObjectAlarm(indexShardStub(env, shardOf(waiting.id, readConfig(env).INDEX_SHARDS))));
		expect((await listed(tag)).find((t) => t.id === waiting.id)).toMatchObject({ status: "queued" });
	});

	it("the re-check removes the row of an unfinished task whose object is gone", async () => {
		const tag = uniqueTag("gone");
		const { id } = newTaskStub(env);
		const shards = readConfig(env).INDEX_SHARDS;
		const shard = indexShardStub(env, shardOf(id, shards));
		const now = Date.now();
		await shard.putMany([{ id, type: "echo", status: "queued", tags: [tag], attempts: 0, maxAttempts: 3, createdAt: now, updatedAt: now }]);
		expect(await listed(tag)).toMatchObject([{ id, status: "queued" }]);
		await inTheFuture(2 * 3600_000, () => runDurableObjectAlarm(shard));
		expect(await listed(tag)).toEqual([]);
	});
});
