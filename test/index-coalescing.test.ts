// Submit-time task index rows are coalesced (src/durable/task-index-coalescer.ts): concurrent
// submits in one isolate share one index call, steered to one shard, and wait while two calls are
// in flight; each submit still answers only once its rows are stored; a failed shared call fails no submit and loses no row; a leader that never
// answers holds nobody up for long.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { readConfig } from "../src/config";
import type { IndexEntry } from "../src/durable/task-index";
import { IndexLane, MAX_ROWS_PER_CALL } from "../src/durable/task-index-coalescer";
import { listTasks, shardOf } from "../src/durable/task-index-stub";
import type { TaskObject } from "../src/durable/task-object";
import { getTaskStub } from "../src/durable/task-stub";
import { TaskRecord } from "../src/schemas";
import { prepareTask, submitTask, submitTasks } from "../src/submit";
import { api, readRecord, taskTypes } from "./helpers";

const uniqueTag = (name: string) => `${name}:${crypto.randomUUID()}`;

const listedIds = async (tag: string) => (await listTasks(env, { tag, limit: 200 })).tasks.map((t) => t.id);

/**
 * `env` whose task index stubs record each putMany (shard, rows) and hold it until `release()`d
 * when `hold` is set, or refuse it when `refuse` says so; everything else is the real thing.
 */
function watchedIndex(options: { hold?: boolean; refuse?: (call: number) => boolean } = {}) {
	const calls: { shard: string; rows: number; ids: string[] }[] = [];
	const gates: (() => void)[] = [];
	const index = {
		getByName: (name: string) => {
			const shard = env.TASK_INDEX.getByName(name);
			return {
				putMany: async (...args: Parameters<typeof shard.putMany>) => {
					const call = calls.push({ shard: name, rows: args[0].length, ids: args[0].map((entry) => entry.id) });
					if (options.hold) await new Promise<void>((resolve) => gates.push(resolve));
					if (options.refuse?.(call)) throw new Error("injected: index unreachable");
					return shard.putMany(...args);
				},
			};
		},
	};
	const watched = new Proxy(env, {
		get: (target, prop): unknown => (prop === "TASK_INDEX" ? index : Reflect.get(target, prop)),
	});
	return { env: watched, calls, release: () => gates.splice(0).forEach((open) => open()) };
}

const indexBehind = (id: string) =>
	runInDurableObject(getTaskStub(env, id), (_: TaskObject, state) => {
		const meta: unknown = state.storage.kv.get("meta");
		return typeof meta === "object" && meta !== null && Reflect.get(meta, "indexBehind") === true;
	});

const echo = (tag: string) => prepareTask(taskTypes, env, { type: "echo", delaySeconds: 3600, tags: [tag] });

describe("submit-time index writes", () => {
	it("concurrent submits share one index call, steered to one shard, each listed when its submit answers", async () => {
		const tag = uniqueTag("coalesced");
		const watched = watchedIndex();
		const seenAtAnswer = await Promise.all(
			Array.from({ length: 20 }, async () => {
				const { id } = await submitTask(watched.env, echo(tag));
				return { id, listed: (await listedIds(tag)).includes(id) };
			}),
		);
		expect(seenAtAnswer.every((s) => s.listed)).toBe(true);
		expect(watched.calls.map((c) => c.rows)).toEqual([20]);
		const shards = new Set(seenAtAnswer.map((s) => shardOf(s.id, readConfig(env).INDEX_SHARDS)));
		expect(shards.size).toBe(1);
	});

	it("submits arriving while two calls are in flight ride in the next one, and answer only once it is stored", async () => {
		const tag = uniqueTag("in-flight");
		const watched = watchedIndex({ hold: true });
		let answered = 0;
		const counted = (submitted: Promise<{ id: string }>) => submitted.then((r) => (answered++, r));
		// Two calls may be in flight at once: A's and B's leave at once (and are held).
		const first = [counted(submitTask(watched.env, echo(tag)))];
		await vi.waitUntil(() => watched.calls.length === 1, { timeout: 5000, interval: 5 });
		first.push(counted(submitTask(watched.env, echo(tag))));
		await vi.waitUntil(() => watched.calls.length === 2, { timeout: 5000, interval: 5 });
		// Started together while both are held: they fill call 3, which waits for one of them.
		const later = Array.from({ length: 10 }, () => counted(submitTask(watched.env, echo(tag))));
		expect(answered).toBe(0);
		watched.release();
		await Promise.all(first);
		await vi.waitUntil(() => watched.calls.length === 3, { timeout: 5000, interval: 5 });
		expect(watched.calls.map((c) => c.rows)).toEqual([1, 1, 10]);
		// Call 3 is held in flight: none of its submits has answered.
		expect(answered).toBe(2);
		watched.release();
		const all = [...(await Promise.all(first)), ...(await Promise.all(later))];
		expect((await listedIds(tag)).sort()).toEqual(all.map((r) => r.id).sort());
	});

	it("a batch submit writes its rows in one call, and successive calls go round the shards", async () => {
		const tag = uniqueTag("batch-call");
		const watched = watchedIndex();
		const shards = readConfig(env).INDEX_SHARDS;
		for (let i = 0; i < shards; i++) {
			const { ids } = await submitTasks(
				watched.env,
				Array.from({ length: 100 }, () => echo(tag)),
			);
			expect(new Set(ids.map((id) => shardOf(id, shards))).size).toBe(1);
		}
		expect(watched.calls.map((c) => c.rows)).toEqual(Array(shards).fill(100));
		expect(new Set(watched.calls.map((c) => c.shard)).size).toBe(shards);
		expect(await listedIds(tag)).toHaveLength(Math.min(200, shards * 100));
	});

	it("a failed shared call fails no submit: its tasks are marked, and their alarms list them", async () => {
		const tag = uniqueTag("shared-failed");
		const watched = watchedIndex({ refuse: () => true });
		const submitted = await Promise.all(Array.from({ length: 5 }, () => submitTask(watched.env, echo(tag))));
		expect(watched.calls.map((c) => c.rows)).toEqual([5]);
		expect(await listedIds(tag)).toEqual([]);
		for (const { id, recordJson } of submitted) {
			expect(TaskRecord.parse(JSON.parse(recordJson)).status).toBe("queued");
			expect(await indexBehind(id)).toBe(true);
			await runDurableObjectAlarm(getTaskStub(env, id));
			expect(await indexBehind(id)).toBe(false);
		}
		expect((await listedIds(tag)).sort()).toEqual(submitted.map((s) => s.id).sort());
	});

	it("the queue message leaves before the index write is answered, and a late first row never hides a later status", async () => {
		const tag = uniqueTag("late-row");
		const watched = watchedIndex({ hold: true });
		let answered = false;
		const submitted = submitTask(watched.env, prepareTask(taskTypes, env, { type: "echo", tags: [tag] })).then((r) => {
			answered = true;
			return r;
		});
		await vi.waitUntil(() => watched.calls.length === 1, { timeout: 5000, interval: 5 });
		const id = watched.calls[0]?.ids[0] ?? "";
		// The task runs (the consumer got its message) while its first index row is still held.
		await vi.waitUntil(async () => (await readRecord(getTaskStub(env, id)))?.status === "succeeded", { timeout: 15_000, interval: 50 });
		await vi.waitUntil(async () => (await listTasks(env, { tag, limit: 10 })).tasks[0]?.status === "succeeded", {
			timeout: 15_000,
			interval: 50,
		});
		expect(answered).toBe(false);
		watched.release();
		expect((await submitted).id).toBe(id);
		// The queued row arrived last and changed nothing (writes are ordered by updatedAt).
		expect((await listTasks(env, { tag, limit: 10 })).tasks).toMatchObject([{ id, status: "succeeded" }]);
	});

	it("through the route: every task of concurrent submits is listed by the time its 202 arrives", async () => {
		const tag = uniqueTag("route");
		const seen = await Promise.all(
			Array.from({ length: 30 }, async () => {
				const response = await api("/v1/tasks", { json: { type: "echo", delaySeconds: 3600, tags: [tag] } });
				expect(response.status).toBe(202);
				const { id } = TaskRecord.parse(await response.json());
				return (await listedIds(tag)).includes(id);
			}),
		);
		expect(seen).toEqual(Array(30).fill(true));
	});
});

describe("IndexLane", () => {
	const entry = (n: number): IndexEntry => ({
		id: n.toString(16).padStart(64, "0"),
		type: "echo",
		status: "queued",
		tags: [],
		attempts: 0,
		maxAttempts: 3,
		createdAt: n,
		updatedAt: n,
	});

	it("a follower whose leader never answers stops waiting, its rows counted as not written; later calls go on", async () => {
		const lane = new IndexLane({ maxInFlight: 1, laneWaitMs: 50, followerPatienceMs: 200 });
		const sent: number[] = [];
		const never = (entries: IndexEntry[]) => {
			sent.push(entries.length);
			return new Promise<never>(() => {});
		};
		const ok = (entries: IndexEntry[]) => {
			sent.push(entries.length);
			return Promise.resolve();
		};
		// Call 1 hangs; calls 2 waits for it at most laneWaitMs, then leaves; its answer is never given either.
		void lane.write(0, [entry(1)], never);
		await vi.waitUntil(() => sent.length === 1, { timeout: 1000, interval: 1 });
		const leader = lane.write(0, [entry(2)], never);
		const follower = lane.write(0, [entry(3)], ok);
		void leader;
		expect(await follower).toBe(false);
		expect(sent).toEqual([1, 2]);
		// A later submit is not held up by the calls that never answered.
		const started = Date.now();
		expect(await lane.write(0, [entry(4)], ok)).toBe(true);
		expect(Date.now() - started).toBeLessThan(1000);
		expect(sent).toEqual([1, 2, 1]);
	});

	it("rows that do not fit in the call being filled go in another", async () => {
		const lane = new IndexLane();
		const sent: number[] = [];
		const ok = (entries: IndexEntry[]) => {
			sent.push(entries.length);
			return Promise.resolve();
		};
		const many = (from: number, n: number) => Array.from({ length: n }, (_, i) => entry(from + i));
		const results = await Promise.all([
			lane.write(0, many(0, MAX_ROWS_PER_CALL - 1), ok),
			lane.write(0, many(1000, 2), ok),
			lane.write(0, many(2000, 1), ok),
		]);
		expect(results).toEqual([true, true, true]);
		// The first call is full enough that the second submit opens another, which the third joins.
		expect(sent).toEqual([MAX_ROWS_PER_CALL - 1, 3]);
	});

	it("a rejected call counts its rows as not written and never rejects", async () => {
		const lane = new IndexLane();
		const refuse = () => Promise.reject(new Error("injected"));
		expect(await Promise.all([lane.write(1, [entry(1)], refuse), lane.write(1, [entry(2)], refuse)])).toEqual([false, false]);
	});
});
