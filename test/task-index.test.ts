// The task index: GET /v1/tasks (listing, every filter, cursor pages while tasks arrive), tags,
// index writes that fail and are repaired by the task's alarm, retention pruning rows, and
// GET /v1/stats. Every test scopes its lists with a tag of its own (storage is shared per file).
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { readConfig } from "../src/config";
import type { TaskIndexObject } from "../src/durable/task-index";
import { indexShardStub, listTasks, shardOf } from "../src/durable/task-index-stub";
import type { TaskObject } from "../src/durable/task-object";
import { getTaskStub, newTaskStub } from "../src/durable/task-stub";
import { type TaskListQuery, TaskPage, TaskRecord, TaskRecordList, TaskStats, type TaskSummary } from "../src/schemas";
import { prepareTask, submitTask } from "../src/submit";
import { api, expectProblem, inTheFuture, submit, taskTypes, waitForTerminal } from "./helpers";

const HOUR = 3600_000;
const uniqueTag = (name: string) => `${name}:${crypto.randomUUID()}`;

async function page(query: string): Promise<TaskPage> {
	const response = await api(`/v1/tasks?${query}`);
	expect(response.status, await response.clone().text()).toBe(200);
	return TaskPage.parse(await response.json());
}

/** Every page of a query, following nextCursor. */
async function allPages(query: string, limit: number): Promise<TaskSummary[][]> {
	const pages: TaskSummary[][] = [];
	let cursor: string | null = null;
	do {
		const next: TaskPage = await page(`${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
		pages.push(next.tasks);
		cursor = next.nextCursor;
	} while (cursor !== null);
	return pages;
}

/** The list order: creation time, then id, descending (a batch's tasks are created concurrently). */
const newestFirst = (records: TaskRecord[]) =>
	[...records].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));

async function submitBatch(tasks: unknown[]): Promise<TaskRecord[]> {
	const response = await api("/v1/tasks/batch", { json: { tasks } });
	expect(response.status, await response.clone().text()).toBe(202);
	return TaskRecordList.parse(await response.json()).tasks;
}

/** Polls until the listed statuses of `tag`'s tasks equal `expected` (id → status). */
async function waitForListed(tag: string, expected: Map<string, string>) {
	await vi.waitUntil(
		async () => {
			const listed = (await allPages(`tag=${encodeURIComponent(tag)}`, 200)).flat();
			return listed.length === expected.size && listed.every((t) => expected.get(t.id) === t.status);
		},
		{ timeout: 15_000, interval: 100 },
	);
}

describe("GET /v1/tasks", () => {
	it("lists a task as queued as soon as its submit answered, with its tags, newest first", async () => {
		const tag = uniqueTag("listing");
		const first = await submit({ type: "echo", delaySeconds: 3600, tags: [tag, "customer:42"] });
		const second = await submit({ type: "sleep", payload: { ms: 1 }, delaySeconds: 3600, tags: [tag] });
		expect(first.tags).toEqual([tag, "customer:42"]);
		const listed = await page(`tag=${encodeURIComponent(tag)}`);
		expect(listed.nextCursor).toBeNull();
		expect(listed.tasks).toEqual([
			{
				id: second.id,
				type: "sleep",
				status: "queued",
				tags: [tag],
				attempts: 0,
				maxAttempts: second.maxAttempts,
				createdAt: second.createdAt,
				updatedAt: second.updatedAt,
			},
			expect.objectContaining({ id: first.id, type: "echo", status: "queued", tags: [tag, "customer:42"] }),
		]);
		expect(Object.keys(listed.tasks[0] ?? {})).not.toContain("payload");
	});

	it("filters by status (one or several), type, tag and creation time", async () => {
		const tag = uniqueTag("filters");
		const other = uniqueTag("other");
		const [queued, cancelled, succeeded, failed, otherTagged] = await submitBatch([
			{ type: "echo", delaySeconds: 3600, tags: [tag] },
			{ type: "sleep", payload: { ms: 1 }, delaySeconds: 3600, tags: [tag] },
			{ type: "echo", payload: { ok: 1 }, tags: [tag] },
			{ type: "fail", payload: { message: "no" }, tags: [tag] },
			{ type: "echo", delaySeconds: 3600, tags: [other] },
		]);
		if (!queued || !cancelled || !succeeded || !failed || !otherTagged) throw new Error("expected 5 records");
		expect((await api(`/v1/tasks/${cancelled.id}/cancel`, { method: "POST" })).status).toBe(200);
		await waitForTerminal(succeeded.id);
		await waitForTerminal(failed.id);
		const expected = new Map([
			[queued.id, "queued"],
			[cancelled.id, "cancelled"],
			[succeeded.id, "succeeded"],
			[failed.id, "failed"],
		]);
		await waitForListed(tag, expected);

		const ids = async (query: string) => (await page(`tag=${encodeURIComponent(tag)}&${query}`)).tasks.map((t) => t.id).sort();
		const sorted = (...records: TaskRecord[]) => records.map((r) => r.id).sort();
		expect(await ids("status=queued")).toEqual(sorted(queued));
		expect(await ids("status=failed&status=cancelled")).toEqual(sorted(failed, cancelled));
		expect(await ids("status=failed,cancelled")).toEqual(sorted(failed, cancelled));
		expect(await ids("status=succeeded")).toEqual(sorted(succeeded));
		expect(await ids("type=sleep")).toEqual(sorted(cancelled));
		expect(await ids("type=echo&status=queued,succeeded")).toEqual(sorted(queued, succeeded));
		const failedSummary = (await page(`tag=${encodeURIComponent(tag)}&status=failed`)).tasks[0];
		expect(failedSummary).toMatchObject({ errorName: "NonRetryableError", attempts: 1 });
		expect(failedSummary?.finishedAt).toBeDefined();
		// Without a tag: the failed/cancelled query takes the partial index; the result is the same.
		const times = [queued, cancelled, succeeded, failed].map((r) => Date.parse(r.createdAt));
		const since = encodeURIComponent(new Date(Math.min(...times)).toISOString());
		const untagged = (await page(`status=failed,cancelled&createdAfter=${since}&limit=200`)).tasks.map((t) => t.id);
		expect(untagged).toEqual(expect.arrayContaining(sorted(failed, cancelled)));
		expect(await ids(`createdAfter=${since}`)).toEqual(sorted(queued, cancelled, succeeded, failed));
		expect(await ids(`createdBefore=${since}`)).toEqual([]);
		const later = encodeURIComponent(new Date(Math.max(...times) + 1).toISOString());
		expect(await ids(`createdAfter=${later}`)).toEqual([]);
		expect((await page(`tag=${encodeURIComponent(other)}`)).tasks.map((t) => t.id)).toEqual([otherTagged.id]);
	});

	it("pages by cursor without repeats or gaps while new tasks arrive", async () => {
		const tag = uniqueTag("paging");
		const before = await submitBatch(
			Array.from({ length: 45 }, (_, i) => ({ type: "echo", delaySeconds: 3600, payload: { i }, tags: [tag] })),
		);
		const seen: string[] = [];
		let cursor: string | null = null;
		let arrivals = 0;
		do {
			const next: TaskPage = await page(`tag=${encodeURIComponent(tag)}&limit=7${cursor ? `&cursor=${cursor}` : ""}`);
			seen.push(...next.tasks.map((t) => t.id));
			// Tasks arriving between pages are newer than the cursor: they belong on a fresh first page.
			await submitBatch(Array.from({ length: 3 }, () => ({ type: "echo", delaySeconds: 3600, tags: [tag] })));
			arrivals += 3;
			cursor = next.nextCursor;
		} while (cursor !== null);
		expect(new Set(seen).size).toBe(seen.length);
		expect(seen).toEqual(newestFirst(before).map((r) => r.id));
		const fresh = (await allPages(`tag=${encodeURIComponent(tag)}`, 50)).flat();
		expect(fresh).toHaveLength(45 + arrivals);
	});

	it("serves listTasks() to other code with the same pages as the route", async () => {
		const tag = uniqueTag("function");
		const records = await submitBatch(Array.from({ length: 5 }, () => ({ type: "echo", delaySeconds: 3600, tags: [tag] })));
		const query: TaskListQuery = { tag, limit: 3 };
		const first = await listTasks(env, query);
		const expected = newestFirst(records).map((r) => r.id);
		expect(first.tasks.map((t) => t.id)).toEqual(expected.slice(0, 3));
		const second = await listTasks(env, { ...query, cursor: first.nextCursor ?? undefined });
		expect(second.nextCursor).toBeNull();
		expect(second.tasks.map((t) => t.id)).toEqual(expected.slice(3));
	});

	it.each([
		["status=done", "status.0"],
		["status=failed,nope", "status.1"],
		["limit=0", "limit"],
		["limit=201", "limit"],
		["limit=ten", "limit"],
		["cursor=not-a-cursor", "cursor"],
		["createdAfter=yesterday", "createdAfter"],
		["createdBefore=2026-13-01T00:00:00Z", "createdBefore"],
		["tag=has%20space", "tag"],
		["type=", "type"],
	])("answers 422 for %s at %s", async (query, path) => {
		const problem = await expectProblem(await api(`/v1/tasks?${query}`), 422);
		expect(problem.errors?.map((e) => e.path)).toContain(path);
	});

	it("needs the token", async () => {
		await expectProblem(await api("/v1/tasks", { token: null }), 401);
		await expectProblem(await api("/v1/stats", { token: "wrong" }), 401);
	});
});

describe("tags", () => {
	it("are validated on submit and batch submit", async () => {
		const eleven = Array.from({ length: 11 }, (_, i) => `t${i}`);
		const cases: [unknown, string][] = [
			[eleven, "tags"],
			[["a b"], "tags.0"],
			[["ok", ""], "tags.1"],
			[["x".repeat(65)], "tags.0"],
			[["same", "same"], "tags"],
			[["tab\there"], "tags.0"],
			["customer:42", "tags"],
		];
		for (const [tags, path] of cases) {
			const problem = await expectProblem(await api("/v1/tasks", { json: { type: "echo", tags } }), 422);
			expect(
				problem.errors?.map((e) => e.path),
				JSON.stringify(tags),
			).toContain(path);
			const batch = await expectProblem(await api("/v1/tasks/batch", { json: { tasks: [{ type: "echo" }, { type: "echo", tags }] } }), 422);
			expect(batch.errors?.map((e) => e.path)).toContain(`tasks.1.${path}`);
		}
		const ok = await submit({ type: "echo", tags: ["x".repeat(64), "ünïcode:✓", ...Array.from({ length: 8 }, (_, i) => `n${i}`)] });
		expect(ok.tags).toHaveLength(10);
		expect((await waitForTerminal(ok.id)).tags).toEqual(ok.tags);
	});
});

/** Makes the object's next task index writes fail, as if its shard could not be reached. */
function breakIndexWrites(instance: TaskObject): () => void {
	const writer: unknown = Reflect.get(instance, "index");
	if (typeof writer !== "object" || writer === null) throw new Error("no index writer");
	const original: unknown = Reflect.get(writer, "env");
	const unreachable = { getByName: () => ({ put: () => Promise.reject(new Error("injected: index unreachable")) }) };
	Reflect.set(writer, "env", { ...env, TASK_INDEX: unreachable });
	return () => Reflect.set(writer, "env", original);
}

const indexBehind = (stub: DurableObjectStub<TaskObject>) =>
	runInDurableObject(stub, (_: TaskObject, state) => {
		const meta: unknown = state.storage.kv.get("meta");
		return typeof meta === "object" && meta !== null && Reflect.get(meta, "indexBehind") === true;
	});

describe("index writes that fail", () => {
	it("never fail the submit; the task's alarm repairs the missing row within seconds", async () => {
		const tag = uniqueTag("repair-create");
		const { id, stub } = newTaskStub(env);
		let restore = () => {};
		await runInDurableObject(stub, (instance: TaskObject) => {
			restore = breakIndexWrites(instance);
		});
		const created = await stub.create({
			type: "echo",
			payloadJson: "{}",
			maxAttempts: 3,
			timeoutSeconds: 30,
			delaySeconds: 3600,
			tags: [tag],
		});
		expect(created.kind).toBe("created");
		expect((await page(`tag=${encodeURIComponent(tag)}`)).tasks).toEqual([]);
		expect(await indexBehind(stub)).toBe(true);
		// The alarm was moved up to retry the write soon (not the task's hour-away due time).
		const alarm = await runInDurableObject(stub, (_: TaskObject, state) => state.storage.getAlarm());
		expect(alarm).toBeLessThanOrEqual(Date.now() + 10_000);
		restore();
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect((await page(`tag=${encodeURIComponent(tag)}`)).tasks).toMatchObject([{ id, status: "queued" }]);
		expect(await indexBehind(stub)).toBe(false);
		// Back to the task's own deadline.
		const rearmed = await runInDurableObject(stub, (_: TaskObject, state) => state.storage.getAlarm());
		expect(rearmed).toBeGreaterThan(Date.now() + 60_000);
	});

	it("a submit whose index write fails still answers; the task's alarm lists it", async () => {
		const tag = uniqueTag("repair-submit");
		const unreachable = { getByName: () => ({ putMany: () => Promise.reject(new Error("injected: index unreachable")) }) };
		const brokenIndex = new Proxy(env, {
			get: (target, prop): unknown => (prop === "TASK_INDEX" ? unreachable : Reflect.get(target, prop)),
		});
		const input = prepareTask(taskTypes, env, { type: "echo", delaySeconds: 3600, tags: [tag] });
		const { id } = await submitTask(brokenIndex, input);
		expect((await page(`tag=${encodeURIComponent(tag)}`)).tasks).toEqual([]);
		const stub = getTaskStub(env, id);
		expect(await indexBehind(stub)).toBe(true);
		await runDurableObjectAlarm(stub);
		expect((await page(`tag=${encodeURIComponent(tag)}`)).tasks).toMatchObject([{ id, status: "queued" }]);
		expect(await indexBehind(stub)).toBe(false);
	});

	it("repairs a missed status change, and a task's progress never waited on it", async () => {
		const tag = uniqueTag("repair-change");
		const { id, stub } = newTaskStub(env);
		await stub.create({ type: "echo", payloadJson: "{}", maxAttempts: 3, timeoutSeconds: 30, delaySeconds: 3600, tags: [tag] });
		let restore = () => {};
		await runInDurableObject(stub, (instance: TaskObject) => {
			restore = breakIndexWrites(instance);
		});
		expect(await stub.cancel()).toMatchObject({ kind: "cancelled" });
		await vi.waitUntil(() => indexBehind(stub), { timeout: 5000, interval: 50 });
		expect((await page(`tag=${encodeURIComponent(tag)}`)).tasks).toMatchObject([{ id, status: "queued" }]);
		restore();
		await runDurableObjectAlarm(stub);
		expect((await page(`tag=${encodeURIComponent(tag)}`)).tasks).toMatchObject([{ id, status: "cancelled" }]);
		expect(await indexBehind(stub)).toBe(false);
	});

	it("ignores a stale or repeated summary (writes are ordered by updatedAt)", async () => {
		const shard = indexShardStub(env, 0);
		const id = "f".repeat(63) + "0";
		const entry = { id, type: "echo", status: "running" as const, tags: [], attempts: 1, maxAttempts: 3, createdAt: 1000, updatedAt: 2000 };
		expect(await shard.put(entry)).toEqual({ stored: true });
		expect(await shard.put({ ...entry, status: "queued", attempts: 0, updatedAt: 1000 })).toEqual({ stored: false });
		expect(await shard.put(entry)).toEqual({ stored: false });
		expect(await shard.list({ limit: 5, until: 1001, from: 1000 })).toMatchObject([{ at: 1000, summary: { id, status: "running" } }]);
		expect(await shard.remove(1000, id)).toBe(true);
	});
});

describe("retention", () => {
	it("the shard's alarm removes rows of tasks past RESULT_TTL_SECONDS, and only those", async () => {
		const tag = uniqueTag("retention");
		const [ended, waiting] = await submitBatch([
			{ type: "echo", delaySeconds: 3600, tags: [tag] },
			{ type: "echo", delaySeconds: 3600, tags: [tag] },
		]);
		if (!ended || !waiting) throw new Error("expected 2 records");
		expect((await api(`/v1/tasks/${ended.id}/cancel`, { method: "POST" })).status).toBe(200);
		await waitForListed(
			tag,
			new Map([
				[ended.id, "cancelled"],
				[waiting.id, "queued"],
			]),
		);
		const ttl = readConfig(env).RESULT_TTL_SECONDS * 1000;
		const shards = new Set([ended.id, waiting.id].map((id) => shardOf(id, readConfig(env).INDEX_SHARDS)));
		for (const shard of shards) {
			// Before the TTL nothing goes.
			await inTheFuture(ttl - HOUR, () => runDurableObjectAlarm(indexShardStub(env, shard)));
		}
		expect((await page(`tag=${encodeURIComponent(tag)}`)).tasks).toHaveLength(2);
		for (const shard of shards) await inTheFuture(ttl + HOUR, () => runDurableObjectAlarm(indexShardStub(env, shard)));
		expect((await page(`tag=${encodeURIComponent(tag)}`)).tasks.map((t) => t.id)).toEqual([waiting.id]);
		// The tag rows went with it; the shard re-armed its alarm.
		const tagRows = await runInDurableObject(
			indexShardStub(env, shardOf(ended.id, readConfig(env).INDEX_SHARDS)),
			(_: TaskIndexObject, state) => state.storage.sql.exec("SELECT count(*) AS n FROM task_tags WHERE id = ?", ended.id).one(),
		);
		expect(tagRows).toEqual({ n: 0 });
	});
});

describe("GET /v1/stats", () => {
	async function stats(): Promise<TaskStats> {
		const response = await api("/v1/stats");
		expect(response.status).toBe(200);
		return TaskStats.parse(await response.json());
	}

	it("counts tasks per status and type, per minute, and reports both queues' backlogs", async () => {
		const before = await stats();
		expect(before.lastHour).toHaveLength(60);
		expect(before.queues.tasks).not.toBeNull();
		expect(before.queues.deadLetter).toMatchObject({ backlogCount: 0 });
		const records = await submitBatch([
			{ type: "sha256", payload: { text: "a" } },
			{ type: "sha256", payload: { text: "b" } },
			{ type: "fail", payload: { message: "x" } },
			{ type: "flaky", payload: { failTimes: 0 }, delaySeconds: 3600 },
		]);
		for (const record of records.slice(0, 3)) await waitForTerminal(record.id);
		const sum = (s: TaskStats, key: "created" | "succeeded" | "failed") => s.lastHour.reduce((n, m) => n + m[key], 0);
		await vi.waitUntil(
			async () => {
				const after = await stats();
				const diff = (type: string, status: "queued" | "succeeded" | "failed") =>
					(after.byType[type]?.[status] ?? 0) - (before.byType[type]?.[status] ?? 0);
				return (
					diff("sha256", "succeeded") === 2 &&
					diff("fail", "failed") === 1 &&
					diff("flaky", "queued") === 1 &&
					after.byStatus.running === 0 &&
					sum(after, "created") - sum(before, "created") === 4 &&
					sum(after, "succeeded") - sum(before, "succeeded") === 2 &&
					sum(after, "failed") - sum(before, "failed") === 1
				);
			},
			{ timeout: 15_000, interval: 200 },
		);
		const after = await stats();
		const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
		expect(total(after.byStatus)).toBe(Object.values(after.byType).reduce((n, c) => n + total(c), 0));
	});
});

describe("cost", () => {
	it("writes the rows the README's cost model counts", async () => {
		// A shard of its own, so only this test's writes are counted.
		const shard = env.TASK_INDEX.getByName(`cost-${crypto.randomUUID()}`);
		const written = () => runInDurableObject(shard, (instance: TaskIndexObject) => Number(Reflect.get(instance, "rowsWritten")));
		const rowsOf = async (work: () => Promise<unknown>) => {
			const before = await written();
			await work();
			return (await written()) - before;
		};
		const task = (n: number, status: "queued" | "running" | "succeeded" | "failed", tags: string[] = []) => ({
			id: n.toString(16).padStart(64, "0"),
			type: "echo",
			status,
			tags,
			attempts: status === "queued" ? 0 : 1,
			maxAttempts: 3,
			createdAt: 1_000_000 + n,
			updatedAt: 2_000_000 + (status === "queued" ? 0 : status === "running" ? 1 : 2),
		});
		// Happy path: insert, (running,) final status, delete at retention.
		expect(await rowsOf(() => shard.put(task(1, "queued")))).toBe(1);
		expect(await rowsOf(() => shard.put(task(1, "running")))).toBe(1);
		expect(await rowsOf(() => shard.put(task(1, "succeeded")))).toBe(1);
		expect(await rowsOf(() => shard.remove(1_000_001, task(1, "queued").id))).toBe(1);
		// A failed task adds its partial index entry (deleted with the row for free); each tag costs one
		// row at insert and one at delete.
		expect(await rowsOf(() => shard.put(task(2, "queued", ["a", "b"])))).toBe(3);
		expect(await rowsOf(() => shard.put(task(2, "failed", ["a", "b"])))).toBe(2);
		expect(await rowsOf(() => shard.remove(1_000_002, task(2, "queued").id))).toBe(3);
		// A repeated write (a repair of a write that did arrive) writes nothing.
		expect(await rowsOf(() => shard.put(task(3, "queued")))).toBe(1);
		expect(await rowsOf(() => shard.put(task(3, "queued")))).toBe(0);
	});
});
