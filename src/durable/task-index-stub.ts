// The one place index shards become stubs, and the reads that span every shard: a page of the
// task list (merged newest first across shards) and the shards' counters for /v1/stats.
// Usable from the Worker and from other Durable Objects (it needs only `env`).
import { readConfig } from "../config";
import type { InternalEnv } from "../environment";
import { decodeCursor, encodeCursor, type TaskListQuery, type TaskPage } from "../schemas";
import type { IndexEntry, IndexedSummary, ShardQuery, ShardStats, TaskIndexObject } from "./task-index";
import { pickShard, writeCoalesced } from "./task-index-coalescer";
import type { TaskObject } from "./task-object";
import { newTaskStub, newTaskStubWhere } from "./task-stub";

/** New tasks' ids are steered to one shard (newIndexedTaskStubs) only up to this many shards. */
const MAX_STEERED_SHARDS = 32;

/** The shard of a task: FNV-1a of its id, modulo the shard count the task was created under. */
export function shardOf(id: string, shards: number): number {
	let hash = 0x811c9dc5;
	for (let i = 0; i < id.length; i++) {
		hash ^= id.charCodeAt(i);
		hash = Math.imul(hash, 0x01000193);
	}
	return (hash >>> 0) % shards;
}

export function indexShardStub(env: InternalEnv, shard: number): DurableObjectStub<TaskIndexObject> {
	return env.TASK_INDEX.getByName(`task-index-${shard}`);
}

function allShards(env: InternalEnv) {
	return Array.from({ length: readConfig(env).INDEX_SHARDS }, (_, shard) => indexShardStub(env, shard));
}

/**
 * One page of tasks matching the query, newest first (by creation time, then id). Each shard
 * answers up to `limit + 1` tasks after the cursor; the merged first `limit` are the page, and
 * there is a next page exactly when more than `limit` were found. The cursor is a position, not an
 * offset: tasks created while a client pages appear before it (on a fresh first page), never
 * between pages, so pages neither repeat nor skip a task.
 */
export async function listTasks(env: InternalEnv, query: TaskListQuery): Promise<TaskPage> {
	const limit = query.limit;
	const shardQuery: ShardQuery = {
		statuses: query.status,
		type: query.type,
		tag: query.tag,
		from: query.createdAfter === undefined ? undefined : Date.parse(query.createdAfter),
		until: query.createdBefore === undefined ? undefined : Date.parse(query.createdBefore),
		before: query.cursor === undefined ? undefined : (decodeCursor(query.cursor) ?? undefined),
		limit: limit + 1,
	};
	const found: IndexedSummary[] = (await Promise.all(allShards(env).map((shard) => shard.list(shardQuery)))).flat();
	found.sort((a, b) => b.at - a.at || (a.summary.id < b.summary.id ? 1 : a.summary.id > b.summary.id ? -1 : 0));
	const page = found.slice(0, limit);
	const last = page.at(-1);
	return {
		tasks: page.map((item) => item.summary),
		nextCursor: found.length > limit && last ? encodeCursor({ at: last.at, id: last.summary.id }) : null,
	};
}

/**
 * Stubs for `count` tasks about to be created whose ids hash to one shard: the shard of the index
 * call this isolate is filling, so that their first rows (indexNewTasks) ride in it together.
 */
export function newIndexedTaskStubs(env: InternalEnv, count: number): { id: string; stub: DurableObjectStub<TaskObject> }[] {
	const shards = readConfig(env).INDEX_SHARDS;
	// An id hashes to a given shard once in `shards` draws: beyond MAX_STEERED_SHARDS, drawing would
	// cost about as much as the calls it saves, so ids are not steered (rows still share calls per shard).
	if (shards > MAX_STEERED_SHARDS) return Array.from({ length: count }, () => newTaskStub(env));
	const shard = pickShard(env.TASK_INDEX, shards, count);
	return Array.from({ length: count }, () => newTaskStubWhere(env, (id) => shardOf(id, shards) === shard));
}

/**
 * Writes the rows of tasks being created, one call per shard, shared with the rows of other
 * submits to the same shard from this isolate (see task-index-coalescer.ts). Resolves with the ids
 * whose shard could not be written (never rejects: the index must not fail a submit).
 */
export async function indexNewTasks(env: InternalEnv, entries: IndexEntry[]): Promise<string[]> {
	const shards = readConfig(env).INDEX_SHARDS;
	const byShard = new Map<number, IndexEntry[]>();
	for (const entry of entries) {
		const shard = shardOf(entry.id, shards);
		byShard.set(shard, [...(byShard.get(shard) ?? []), entry]);
	}
	const failed = await Promise.all(
		[...byShard].map(async ([shard, share]) => {
			const written = await writeCoalesced(env.TASK_INDEX, shard, share, (rows) => indexShardStub(env, shard).putMany(rows));
			return written ? [] : share.map((entry) => entry.id);
		}),
	);
	return failed.flat();
}

/** Every shard's counters, for the stats since `since` (epoch ms). */
export function readShardStats(env: InternalEnv, since: number): Promise<ShardStats[]> {
	return Promise.all(allShards(env).map((shard) => shard.stats(since)));
}
