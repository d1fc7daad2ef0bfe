// POST /v1/tasks/bulk and GET /v1/operations/{id}: the work runs in the operation's Durable Object
// alarm, a chunk at a time; each task's own object decides whether the action applies.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { readConfig } from "../src/config";
import { CHUNK_SIZE, CONCURRENCY, type OperationObject } from "../src/durable/operation-object";
import { getOperationStub, newOperationStub } from "../src/durable/operation-stub";
import { indexShardStub, shardOf } from "../src/durable/task-index-stub";
import { newTaskStub } from "../src/durable/task-stub";
import { MAX_BULK_IDS, OperationRecord, TaskPage, type TaskRecord, TaskRecordList } from "../src/schemas";
import { api, createTask, expectProblem, getTask, inTheFuture, readRecord, submit, waitForTerminal } from "./helpers";

const DAY = 24 * 3600_000;

async function startOperation(body: unknown) {
	const response = await api("/v1/tasks/bulk", { json: body });
	expect(response.status, await response.clone().text()).toBe(202);
	const record = OperationRecord.parse(await response.json());
	expect(response.headers.get("Location")).toBe(`/v1/operations/${record.id}`);
	return record;
}

async function getOperation(id: string) {
	const response = await api(`/v1/operations/${id}`);
	expect(response.status).toBe(200);
	return OperationRecord.parse(await response.json());
}

/** Polls until the operation ended (its alarm runs by itself). */
function waitForOperation(id: string, timeout = 20_000) {
	return vi.waitUntil(
		async () => {
			const record = await getOperation(id);
			return record.state === "running" ? false : record;
		},
		{ timeout, interval: 50 },
	);
}

/** A task in each status (recorded directly; only a retry sends anything to the queue). */
async function tasksInEveryStatus() {
	const queued = await createTask("echo", { n: "queued" });
	const running = await createTask("echo");
	await running.stub.start();
	const retrying = await createTask("echo");
	const start = await retrying.stub.start();
	if (start.kind !== "run") throw new Error("expected a run");
	await retrying.stub.finish(start.attempt, { ok: false, error: { name: "Error", message: "x" }, retryInSeconds: 3600 });
	const succeeded = await createTask("echo");
	const s = await succeeded.stub.start();
	if (s.kind !== "run") throw new Error("expected a run");
	await succeeded.stub.finish(s.attempt, { ok: true, resultJson: "1" });
	const failed = await createTask("echo", { n: "failed" }, { maxAttempts: 1 });
	const f = await failed.stub.start();
	if (f.kind !== "run") throw new Error("expected a run");
	await failed.stub.finish(f.attempt, { ok: false, error: { name: "Error", message: "x" }, retryInSeconds: null });
	const cancelled = await createTask("echo", { n: "cancelled" });
	await cancelled.stub.cancel();
	return { queued, running, retrying, succeeded, failed, cancelled };
}

/** A property of a runtime object, with methods bound to it (they refuse other receivers). */
function passThrough(target: object, prop: string | symbol): unknown {
	const value: unknown = Reflect.get(target, prop);
	return typeof value === "function" ? value.bind(target) : value;
}

/** Runs `work` on every item with at most `concurrency` at a time. */
async function mapPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
	const queue = items.values();
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			for (const item of queue) await work(item);
		}),
	);
}

const unknownId = () => [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");

describe("POST /v1/tasks/bulk by ids", () => {
	it("retries the failed and cancelled ones, skips the rest by status, and the retried tasks run", async () => {
		const t = await tasksInEveryStatus();
		const missing = unknownId();
		const ids = [...Object.values(t).map((task) => task.id), missing, t.failed.id];
		const started = await startOperation({ action: "retry", ids });
		expect(started).toMatchObject({ action: "retry", state: "running", ids: 7, matched: 7, done: 0, skipped: 0, failed: 0 });

		const ended = await waitForOperation(started.id);
		expect(ended).toMatchObject({ state: "succeeded", matched: 7, done: 2, skipped: 5, failed: 0, errors: [] });
		expect(ended.skippedByStatus).toEqual({ queued: 1, running: 1, retrying: 1, succeeded: 1, "not-found": 1 });
		expect(Date.parse(ended.finishedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(ended.createdAt));
		// The operation sent the retried tasks to the queue: they run to the end.
		expect(await waitForTerminal(t.failed.id)).toMatchObject({ status: "succeeded", attempts: 2, result: { n: "failed" } });
		expect(await waitForTerminal(t.cancelled.id)).toMatchObject({ status: "succeeded", result: { n: "cancelled" } });
		expect(await readRecord(t.running.stub)).toMatchObject({ status: "running" });
	});

	it("cancels queued and retrying tasks only", async () => {
		const t = await tasksInEveryStatus();
		const ended = await waitForOperation((await startOperation({ action: "cancel", ids: Object.values(t).map((x) => x.id) })).id);
		expect(ended).toMatchObject({ state: "succeeded", matched: 6, done: 2, skipped: 4 });
		expect(ended.skippedByStatus).toEqual({ running: 1, succeeded: 1, failed: 1, cancelled: 1 });
		expect(await readRecord(t.queued.stub)).toMatchObject({ status: "cancelled" });
		expect(await readRecord(t.retrying.stub)).toMatchObject({ status: "cancelled" });
		expect(await readRecord(t.running.stub)).toMatchObject({ status: "running" });
	});

	it("deletes finished tasks only; they are 404 afterwards", async () => {
		const t = await tasksInEveryStatus();
		const ended = await waitForOperation((await startOperation({ action: "delete", ids: Object.values(t).map((x) => x.id) })).id);
		expect(ended).toMatchObject({ state: "succeeded", matched: 6, done: 3, skipped: 3 });
		expect(ended.skippedByStatus).toEqual({ queued: 1, running: 1, retrying: 1 });
		for (const task of [t.succeeded, t.failed, t.cancelled]) {
			await expectProblem(await api(`/v1/tasks/${task.id}`), 404);
		}
		expect((await getTask(t.queued.id)).status).toBe("queued");
	});

	it("works through the tasks in chunks, one per alarm, saving progress after each", async () => {
		const tasks = await Promise.all(Array.from({ length: 2 * CHUNK_SIZE + 50 }, () => createTask("echo")));
		// Moved an hour ahead, the alarms the operation sets are an hour away for the runtime: only
		// runDurableObjectAlarm runs them, one chunk per call.
		await inTheFuture(3600_000, async () => {
			const { id } = await startOperation({ action: "cancel", ids: tasks.map((t) => t.id) });
			const stub = getOperationStub(env, id);
			const seen: [number, string][] = [];
			for (let i = 0; i < 3; i++) {
				expect(await runDurableObjectAlarm(stub)).toBe(true);
				const record = await getOperation(id);
				seen.push([record.done, record.state]);
			}
			expect(seen).toEqual([
				[CHUNK_SIZE, "running"],
				[2 * CHUNK_SIZE, "running"],
				[2 * CHUNK_SIZE + 50, "succeeded"],
			]);
			// Ended: the next alarm is the retention deadline, not another chunk.
			const alarm = await runInDurableObject(stub, (_: OperationObject, state) => state.storage.getAlarm());
			expect(alarm).toBeGreaterThan(Date.now() + DAY);
		});
		expect((await Promise.all(tasks.map((t) => readRecord(t.stub)))).every((r) => r?.status === "cancelled")).toBe(true);
	});

	it("counts tasks it could not reach as failed, and ends failed", async () => {
		const ok = await createTask("echo");
		const unreachable = await createTask("echo");
		await inTheFuture(3600_000, async () => {
			const { id } = await startOperation({ action: "cancel", ids: [ok.id, unreachable.id] });
			const stub = getOperationStub(env, id);
			// The operation's view of one task's object fails every call, like an unreachable object.
			await runInDurableObject(stub, (instance: OperationObject) => {
				const real = env.TASK_OBJECT;
				const namespace = new Proxy(real, {
					get: (target, prop) => {
						if (prop !== "get") return passThrough(target, prop);
						return (objectId: DurableObjectId) =>
							objectId.toString() === unreachable.id
								? new Proxy(target.get(objectId), { get: () => () => Promise.reject(new Error("injected")) })
								: target.get(objectId);
					},
				});
				Reflect.set(instance, "env", { ...env, TASK_OBJECT: namespace });
			});
			expect(await runDurableObjectAlarm(stub)).toBe(true);
			const record = await getOperation(id);
			expect(record).toMatchObject({ state: "failed", done: 1, failed: 1, skipped: 0 });
			expect(record.errors).toEqual([{ id: unreachable.id, message: "The task's Durable Object could not be reached (Error)." }]);
		});
		expect(await readRecord(unreachable.stub)).toMatchObject({ status: "queued" });
	});

	it("is kept RESULT_TTL_SECONDS after it ended, then deleted", async () => {
		const task = await createTask("echo");
		const { id } = await startOperation({ action: "cancel", ids: [task.id] });
		await waitForOperation(id);
		await inTheFuture(8 * DAY, () => runDurableObjectAlarm(getOperationStub(env, id)));
		await expectProblem(await api(`/v1/operations/${id}`), 404);
	});
});

/** A task recorded directly in a fresh object (nothing sent to the queue), with a tag to find it by. */
async function createTagged(tag: string, delaySeconds = 0) {
	const { id, stub } = newTaskStub(env);
	await stub.create({ type: "echo", payloadJson: "{}", maxAttempts: 3, timeoutSeconds: 30, delaySeconds, tags: [tag] });
	return { id, stub };
}

const uniqueTag = (name: string) => `${name}:${crypto.randomUUID()}`;

async function submitBatch(tasks: unknown[]): Promise<TaskRecord[]> {
	const response = await api("/v1/tasks/batch", { json: { tasks } });
	expect(response.status, await response.clone().text()).toBe(202);
	return TaskRecordList.parse(await response.json()).tasks;
}

/** Polls GET /v1/tasks until the tag's tasks are listed with these statuses (the index follows within ~1 s). */
async function waitForListed(tag: string, expected: Map<string, string>) {
	await vi.waitUntil(
		async () => {
			const listed = [];
			let cursor: string | null = null;
			do {
				const query = `tag=${encodeURIComponent(tag)}&limit=200${cursor === null ? "" : `&cursor=${cursor}`}`;
				const page: TaskPage = TaskPage.parse(await (await api(`/v1/tasks?${query}`)).json());
				listed.push(...page.tasks);
				cursor = page.nextCursor;
			} while (cursor !== null);
			return listed.length === expected.size && listed.every((t) => expected.get(t.id) === t.status);
		},
		{ timeout: 15_000, interval: 100 },
	);
}

describe("POST /v1/tasks/bulk by filter", () => {
	it("retries the failed tasks a filter finds, which then succeed; leaves other statuses and types alone", async () => {
		const tag = uniqueTag("bulk-retry");
		// flaky with maxAttempts 1 fails its only attempt; a retry's next attempt (number 2) succeeds.
		const flaky = await submitBatch(
			Array.from({ length: 5 }, () => ({ type: "flaky", payload: { failTimes: 1 }, maxAttempts: 1, tags: [tag] })),
		);
		const failing = await submit({ type: "fail", payload: { message: "always" }, tags: [tag] });
		const fine = await submit({ type: "echo", tags: [tag] });
		const expected = new Map<string, string>([
			...flaky.map((t) => [t.id, "failed"] as const),
			[failing.id, "failed"],
			[fine.id, "succeeded"],
		]);
		for (const id of expected.keys()) await waitForTerminal(id);
		await waitForListed(tag, expected);

		const started = await startOperation({ action: "retry", filter: { tag, type: "flaky" } });
		// The filter as applied: narrowed to what retry applies to, bounded by the operation's creation.
		expect(started.filter).toMatchObject({ tag, type: "flaky", status: ["failed", "cancelled"] });
		expect(Date.parse(started.filter?.createdBefore ?? "")).toBe(Date.parse(started.createdAt) + 1);
		const ended = await waitForOperation(started.id);
		expect(ended).toMatchObject({ state: "succeeded", matched: 5, done: 5, skipped: 0, failed: 0 });
		for (const task of flaky) {
			expect(await waitForTerminal(task.id)).toMatchObject({ status: "succeeded", attempts: 2, result: { attempts: 2 } });
		}
		expect((await getTask(failing.id)).status).toBe("failed");
		expect((await getTask(fine.id)).attempts).toBe(1);
	});

	it("leaves tasks created after the operation alone (a snapshot by creation time)", async () => {
		const tag = uniqueTag("snapshot");
		const before = await createTagged(tag, 3600);
		await waitForListed(tag, new Map([[before.id, "queued"]]));
		// Start the operation with its alarm an hour away: it runs only when the test says.
		const { id, stub } = newOperationStub(env);
		await runInDurableObject(stub, async (instance: OperationObject, state) => {
			await instance.begin({ action: "cancel", filter: { tag } });
			await state.storage.setAlarm(Date.now() + 3600_000);
		});
		const after = await createTagged(tag, 3600);
		await waitForListed(
			tag,
			new Map([
				[before.id, "queued"],
				[after.id, "queued"],
			]),
		);
		await runDurableObjectAlarm(stub);
		const ended = await waitForOperation(id);
		expect(ended).toMatchObject({ state: "succeeded", matched: 1, done: 1 });
		expect(await readRecord(before.stub)).toMatchObject({ status: "cancelled" });
		expect(await readRecord(after.stub)).toMatchObject({ status: "queued" });
	});

	it("pages through the index a chunk per alarm, and deletes tasks from the list too", async () => {
		const tag = uniqueTag("chunks");
		const tasks = await Promise.all(Array.from({ length: 2 * CHUNK_SIZE + 30 }, () => createTagged(tag)));
		for (const task of tasks) await task.stub.cancel();
		await waitForListed(tag, new Map(tasks.map((t) => [t.id, "cancelled"])));
		await inTheFuture(3600_000, async () => {
			const { id } = await startOperation({ action: "delete", filter: { tag, status: ["cancelled"] } });
			const stub = getOperationStub(env, id);
			const seen: [number, number, string][] = [];
			for (let i = 0; i < 3; i++) {
				expect(await runDurableObjectAlarm(stub)).toBe(true);
				const record = await getOperation(id);
				seen.push([record.matched, record.done, record.state]);
			}
			expect(seen).toEqual([
				[CHUNK_SIZE, CHUNK_SIZE, "running"],
				[2 * CHUNK_SIZE, 2 * CHUNK_SIZE, "running"],
				[2 * CHUNK_SIZE + 30, 2 * CHUNK_SIZE + 30, "succeeded"],
			]);
		});
		// Gone from the task index as well as from their objects.
		await waitForListed(tag, new Map());
		expect((await Promise.all(tasks.map((t) => readRecord(t.stub)))).every((r) => r === null)).toBe(true);
	});

	it("handles 10,000 matching tasks", { timeout: 240_000 }, async () => {
		// Index rows only (no task objects): what is measured is paging through 10,000 matches and
		// reaching each task's object, which answers not-found, so each is counted as skipped.
		const tag = uniqueTag("ten-thousand");
		const shards = readConfig(env).INDEX_SHARDS;
		const now = Date.now();
		const ids = Array.from({ length: 10_000 }, () => unknownId());
		await mapPool(ids, 50, (id) =>
			indexShardStub(env, shardOf(id, shards)).put({
				id,
				type: "echo",
				status: "failed",
				tags: [tag],
				attempts: 1,
				maxAttempts: 1,
				createdAt: now - 1000,
				updatedAt: now - 1000,
				finishedAt: now - 1000,
				errorName: "Error",
			}),
		);
		const started = Date.now();
		const { id } = await startOperation({ action: "retry", filter: { tag } });
		const ended = await waitForOperation(id, 200_000);
		expect(ended).toMatchObject({
			state: "succeeded",
			matched: 10_000,
			done: 0,
			skipped: 10_000,
			skippedByStatus: { "not-found": 10_000 },
		});
		console.log(`bulk retry by filter over 10,000 index rows: ${((Date.now() - started) / 1000).toFixed(1)} s`);
	});

	it("gives up, failed, when the task index cannot be read", async () => {
		await inTheFuture(3600_000, async () => {
			const { id } = await startOperation({ action: "retry", filter: { type: "echo" } });
			const stub = getOperationStub(env, id);
			await runInDurableObject(stub, (instance: OperationObject) => {
				const broken = new Proxy(env.TASK_INDEX, {
					get: (target, prop) =>
						prop === "getByName"
							? () => {
									throw new Error("injected");
								}
							: passThrough(target, prop),
				});
				Reflect.set(instance, "env", { ...env, TASK_INDEX: broken });
			});
			for (let i = 1; i <= 4; i++) {
				await runDurableObjectAlarm(stub);
				expect(await getOperation(id)).toMatchObject({ state: "running", matched: 0 });
			}
			await runDurableObjectAlarm(stub);
			const record = await getOperation(id);
			expect(record).toMatchObject({ state: "failed", matched: 0 });
			expect(record.error).toMatch(/task index could not be read/);
		});
	});
});

describe("bulk validation", () => {
	it("answers 422 with paths for bad bodies, before creating anything", async () => {
		const id = unknownId();
		const cases: [unknown, string[]][] = [
			[{ action: "retry" }, ["ids"]],
			[{ action: "explode", ids: [id] }, ["action"]],
			[{ action: "retry", ids: [] }, ["ids"]],
			[{ action: "retry", ids: [id, "not-an-id", 42] }, ["ids.1", "ids.2"]],
			[{ action: "retry", ids: Array.from({ length: MAX_BULK_IDS + 1 }, () => id) }, ["ids"]],
			[{ action: "retry", ids: [id], everything: true }, ["everything"]],
			[{ action: "retry", ids: [id], filter: { type: "echo" } }, ["filter"]],
			[{ action: "delete", filter: {} }, ["filter"]],
			[{ action: "retry", filter: { stauts: "failed" } }, ["filter.stauts"]],
			[{ action: "retry", filter: { status: ["running"] } }, ["filter.status"]],
			[{ action: "cancel", filter: { status: ["exploded"] } }, ["filter.status.0"]],
			[{ action: "cancel", filter: { createdAfter: "yesterday" } }, ["filter.createdAfter"]],
			[{ action: "cancel", filter: { tag: "has space" } }, ["filter.tag"]],
		];
		for (const [body, paths] of cases) {
			const problem = await expectProblem(await api("/v1/tasks/bulk", { json: body }), 422);
			expect(problem.errors?.map((e) => e.path).sort(), JSON.stringify(body).slice(0, 80)).toEqual(paths);
		}
		await expectProblem(await api("/v1/tasks/bulk", { method: "POST", body: "{", headers: { "Content-Type": "application/json" } }), 400);
		await expectProblem(await api("/v1/tasks/bulk", { json: { action: "retry", ids: [id] }, token: null }), 401);
	});

	it("accepts exactly 1,000 ids, counting duplicates once", async () => {
		const ids = Array.from({ length: MAX_BULK_IDS }, (_, i) => (i % 2 === 0 ? unknownId() : "a".repeat(64)));
		const record = await startOperation({ action: "delete", ids });
		expect(record).toMatchObject({ ids: 501, matched: 501 });
		const ended = await waitForOperation(record.id, 30_000);
		expect(ended).toMatchObject({ state: "succeeded", done: 0, skipped: 501, skippedByStatus: { "not-found": 501 } });
	});

	it("answers 404 for an unknown or malformed operation id", async () => {
		await expectProblem(await api(`/v1/operations/${unknownId()}`), 404);
		await expectProblem(await api("/v1/operations/nope"), 404);
		await expectProblem(await api(`/v1/operations/${unknownId()}`, { token: null }), 401);
	});
});

describe("POST /v1/operations/{id}/cancel", () => {
	async function cancelOperation(id: string) {
		const response = await api(`/v1/operations/${id}/cancel`, { method: "POST" });
		expect(response.status, await response.clone().text()).toBe(200);
		return OperationRecord.parse(await response.json());
	}

	it("stops an operation between chunks: the tasks it had not reached stay as they were; a second cancel answers the same", async () => {
		const tasks = await Promise.all(Array.from({ length: 2 * CHUNK_SIZE + 50 }, () => createTask("echo")));
		await inTheFuture(3600_000, async () => {
			const { id } = await startOperation({ action: "cancel", ids: tasks.map((t) => t.id) });
			const stub = getOperationStub(env, id);
			expect(await runDurableObjectAlarm(stub)).toBe(true);
			const cancelled = await cancelOperation(id);
			expect(cancelled).toMatchObject({ state: "cancelled", matched: 2 * CHUNK_SIZE + 50, done: CHUNK_SIZE, skipped: 0, failed: 0 });
			expect(cancelled.finishedAt).toBeDefined();
			expect(await cancelOperation(id)).toEqual(cancelled);
			expect(await getOperation(id)).toEqual(cancelled);
			// No further chunk: the next alarm is the retention deadline.
			const alarm = await runInDurableObject(stub, (_: OperationObject, state) => state.storage.getAlarm());
			expect(alarm).toBeGreaterThan(Date.now() + DAY);
		});
		const statuses = (await Promise.all(tasks.map((t) => readRecord(t.stub)))).map((r) => r?.status);
		expect(statuses.slice(0, CHUNK_SIZE).every((s) => s === "cancelled")).toBe(true);
		expect(statuses.slice(CHUNK_SIZE).every((s) => s === "queued")).toBe(true);
	});

	it("stops a chunk under way: only the task calls already made finish, and the chunk's save keeps it cancelled", async () => {
		const tasks = await Promise.all(Array.from({ length: CHUNK_SIZE + 30 }, () => createTask("echo")));
		await inTheFuture(3600_000, async () => {
			const { id } = await startOperation({ action: "cancel", ids: tasks.map((t) => t.id) });
			// The chunk runs until its first CONCURRENCY task calls are out; the cancel comes then.
			const ended = await runInDurableObject(getOperationStub(env, id), async (instance: OperationObject) => {
				const chunk = instance.alarm();
				const cancel = await instance.cancel();
				await chunk;
				return { cancel, after: await instance.get() };
			});
			// The cancel answers once the chunk under way has saved what it did.
			const counts = { state: "cancelled", matched: CHUNK_SIZE + 30, done: CONCURRENCY, skipped: 0, failed: 0 };
			expect(ended.cancel).toMatchObject({ kind: "cancelled", record: counts });
			expect(ended.after).toMatchObject(counts);
		});
		const statuses = (await Promise.all(tasks.map((t) => readRecord(t.stub)))).map((r) => r?.status);
		expect(statuses.slice(0, CONCURRENCY).every((s) => s === "cancelled")).toBe(true);
		expect(statuses.slice(CONCURRENCY).every((s) => s === "queued")).toBe(true);
	});

	it("with a filter, counts as matched only the tasks it reached: none, when cancelled while its page was read", async () => {
		const tag = uniqueTag("stop");
		const tasks = await Promise.all(Array.from({ length: 30 }, () => createTagged(tag)));
		await waitForListed(tag, new Map(tasks.map((t) => [t.id, "queued"])));
		await inTheFuture(3600_000, async () => {
			const { id } = await startOperation({ action: "cancel", filter: { tag } });
			// The chunk first reads a page of the task index; the cancel comes while it does.
			const after = await runInDurableObject(getOperationStub(env, id), async (instance: OperationObject) => {
				const chunk = instance.alarm();
				await instance.cancel();
				await chunk;
				return instance.get();
			});
			expect(after).toMatchObject({ state: "cancelled", matched: 0, done: 0, skipped: 0, failed: 0 });
		});
		expect((await Promise.all(tasks.map((t) => readRecord(t.stub)))).every((r) => r?.status === "queued")).toBe(true);
	});

	it("answers 409 once the operation ended, 404 for an unknown one, 401 without the token", async () => {
		const task = await createTask("echo");
		const record = await startOperation({ action: "cancel", ids: [task.id] });
		expect(await waitForOperation(record.id)).toMatchObject({ state: "succeeded", done: 1 });
		const conflict = await expectProblem(await api(`/v1/operations/${record.id}/cancel`, { method: "POST" }), 409);
		expect(conflict.detail).toMatch(/already succeeded/);
		expect((await getOperation(record.id)).state).toBe("succeeded");
		await expectProblem(await api(`/v1/operations/${unknownId()}/cancel`, { method: "POST" }), 404);
		await expectProblem(await api("/v1/operations/nope/cancel", { method: "POST" }), 404);
		await expectProblem(await api(`/v1/operations/${record.id}/cancel`, { method: "POST", token: null }), 401);
	});
});

describe("POST /v1/tasks/bulk with an Idempotency-Key", () => {
	const keyed = (key: string, body: unknown) => api("/v1/tasks/bulk", { json: body, headers: { "Idempotency-Key": key } });

	it("starts one operation: a repeat (ids reordered, repeated) answers it with 200, even when both race", async () => {
		const tasks = await Promise.all(Array.from({ length: 3 }, () => createTask("echo")));
		const ids = tasks.map((t) => t.id);
		const key = `bulk-${crypto.randomUUID()}`;
		const [first, second] = await Promise.all([
			keyed(key, { action: "cancel", ids }),
			keyed(key, { action: "cancel", ids: [ids[2], ids[0], ids[1], ids[0]] }),
		]);
		expect([first.status, second.status].sort((x, y) => x - y)).toEqual([200, 202]);
		const [a, b] = [OperationRecord.parse(await first.json()), OperationRecord.parse(await second.json())];
		expect(a.id).toBe(b.id);
		const replay = first.status === 200 ? first : second;
		expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
		expect(replay.headers.get("Location")).toBe(`/v1/operations/${a.id}`);
		expect(await waitForOperation(a.id)).toMatchObject({ state: "succeeded", matched: 3, done: 3, skipped: 0 });
		// Later repeats answer the operation as it is now.
		const later = await keyed(key, { action: "cancel", ids });
		expect(later.status).toBe(200);
		expect(OperationRecord.parse(await later.json())).toMatchObject({ id: a.id, state: "succeeded", done: 3 });
	});

	it("answers 422 at Idempotency-Key for another request with the key, and for a malformed key", async () => {
		const task = await createTask("echo");
		const key = `bulk-${crypto.randomUUID()}`;
		const started = await keyed(key, { action: "cancel", ids: [task.id] });
		expect(started.status).toBe(202);
		const { id } = OperationRecord.parse(await started.json());
		for (const other of [
			{ action: "delete", ids: [task.id] },
			{ action: "cancel", filter: { type: "echo" } },
		]) {
			const problem = await expectProblem(await keyed(key, other), 422);
			expect(problem.errors?.map((e) => e.path)).toEqual(["Idempotency-Key"]);
		}
		expect((await getOperation(id)).action).toBe("cancel");
		const malformed = await expectProblem(await keyed("two words", { action: "cancel", ids: [task.id] }), 422);
		expect(malformed.errors?.map((e) => e.path)).toEqual(["Idempotency-Key"]);
	});

	it("compares a filter by meaning (statuses as a set, times as instants); once the operation's retention is over, the key starts a new one", async () => {
		const key = `bulk-${crypto.randomUUID()}`;
		const tag = uniqueTag("keyed");
		const first = await keyed(key, { action: "delete", filter: { tag, status: ["failed", "cancelled"] } });
		expect(first.status).toBe(202);
		const { id } = OperationRecord.parse(await first.json());
		const repeat = await keyed(key, { action: "delete", filter: { status: ["cancelled", "failed", "cancelled"], tag } });
		expect(repeat.status).toBe(200);
		// Written differently, the same request: an omitted status is every status the action applies to.
		const everyStatus = `bulk-${crypto.randomUUID()}`;
		const since = { tag, createdAfter: "2026-01-01T00:00:00Z" };
		expect((await keyed(everyStatus, { action: "retry", filter: since })).status).toBe(202);
		const spelledOut = { ...since, createdAfter: "2026-01-01T00:00:00.000Z", status: ["cancelled", "failed"] };
		expect((await keyed(everyStatus, { action: "retry", filter: spelledOut })).status).toBe(200);
		expect(await waitForOperation(id)).toMatchObject({ state: "succeeded", matched: 0 });
		// Past RESULT_TTL_SECONDS after it ended, its alarm deletes it and the key is free again.
		await inTheFuture(8 * DAY, () => runDurableObjectAlarm(getOperationStub(env, id)));
		expect((await api(`/v1/operations/${id}`)).status).toBe(404);
		const again = await keyed(key, { action: "cancel", filter: { tag } });
		expect(again.status).toBe(202);
		expect(OperationRecord.parse(await again.json())).toMatchObject({ id, action: "cancel", state: "running" });
	});
});
