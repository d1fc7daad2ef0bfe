// One Durable Object per bulk operation (POST /v1/tasks/bulk). The request only records what to
// do; the work runs in this object's alarm, one chunk of at most CHUNK_SIZE tasks per alarm
// invocation, so no single request or invocation grows with the number of tasks (10,000 tasks are
// 100 invocations). After each chunk the counts and the position are saved and the alarm is set
// for "now", which runs the next chunk as a fresh invocation.
//
// The tasks: the ids given (at most 1,000, stored in the "ids" row), or a filter paged through the
// task index with `listTasks`, one page per chunk. A filter is a snapshot by creation time: its
// `createdBefore` is bounded by the operation's creation, so tasks submitted meanwhile are left
// alone, and the index's cursor is a position (creation time, id), so tasks that change status
// while the operation runs never shift the pages. The filter's `status` is narrowed to the
// statuses the action applies to (BULK_ACTION_STATUSES): a task is reached if the index shows it
// in such a status when its page is read.
//
// Each task's own object decides: it applies the action only if the task's current status allows
// it (and is one of the filter's statuses), so a task that changed since it was listed is skipped,
// never forced. A chunk is at-least-once: if an invocation dies mid-chunk, the runtime retries the
// alarm and the chunk runs again; tasks it already acted on are then skipped (their status has
// changed), so `done` can undercount and `skipped` overcount by up to one chunk.
//
// A cancel (POST /v1/operations/{id}/cancel) stops it: no task call starts after it (the at most
// CONCURRENCY calls under way finish and are counted), no further chunk runs, and the state stays
// `cancelled` even when a chunk that was running saves its counts afterwards. The cancel answers
// once that chunk has saved, so its answer's counts are final.
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { readConfig } from "../config";
import type { InternalEnv } from "../environment";
import { BULK_ACTION_STATUSES, BulkAction, type OperationRecord, OperationState, TaskFilter, TaskStatus } from "../schemas";
import { sendOrLeaveToAlarm } from "../task-queue";
import { listTasks } from "./task-index-stub";
import { findTaskStub } from "./task-stub";

/** Tasks handled per alarm invocation: one queue sendBatch (≤ 100) and ≤ 100 task calls. */
export const CHUNK_SIZE = 100;
/** Task calls in flight at once within a chunk. */
export const CONCURRENCY = 20;
/** Failed tasks listed in the record (all are counted). */
const MAX_ERRORS = 20;
/** Consecutive failed reads of the task index before the operation gives up (with backoff 2, 4, 8, 16 s). */
const MAX_LIST_FAILURES = 5;

export type BeginOperationInput = { action: BulkAction; ids: string[] } | { action: BulkAction; filter: TaskFilter };

type OperationMeta = z.infer<typeof OperationMeta>;
const OperationMeta = z.object({
	id: z.string(),
	action: BulkAction,
	state: OperationState,
	/** ids mode: how many distinct ids (stored in the "ids" row); the next to handle is `position`. */
	idCount: z.int().optional(),
	position: z.int(),
	/** filter mode: the filter as applied (status narrowed, createdBefore bounded) and the next page. */
	filter: TaskFilter.optional(),
	cursor: z.string().nullable(),
	listFailures: z.int(),
	matched: z.int(),
	done: z.int(),
	skipped: z.int(),
	failed: z.int(),
	skippedByStatus: z.record(z.string(), z.int()),
	errors: z.array(z.object({ id: z.string(), message: z.string() })),
	error: z.string().optional(),
	createdAt: z.number(),
	updatedAt: z.number(),
	finishedAt: z.number().optional(),
	/** Of the request that started it, when it came with an Idempotency-Key (its object is named by the key). */
	fingerprint: z.string().optional(),
});

const Ids = z.array(z.string());

/** What happened to one task ("not-reached": the operation was cancelled before its call). */
type TaskResult =
	/** `type`: of a retried task, for its queue message. */
	| { kind: "done"; type?: string }
	| { kind: "skipped"; reason: TaskStatus | "not-found" }
	| { kind: "failed"; message: string }
	| { kind: "not-reached" };

/** What begin answers: the operation it started, the one a repeat of its request already started, or a key's conflict. */
export type BeginOperationResult = { kind: "started" | "replayed"; record: OperationRecord } | { kind: "conflict" };

/** What a cancel answers: the operation (now or already cancelled), or the state it ended in. */
export type CancelOperationResult = { kind: "cancelled"; record: OperationRecord } | { kind: "conflict"; state: OperationState };

export class OperationObject extends DurableObject<InternalEnv> {
	private meta: OperationMeta | null;
	/** The chunk under way in the alarm, if any (a cancel waits for it to save its counts). */
	private chunk: Promise<void> | null = null;

	constructor(ctx: DurableObjectState, env: InternalEnv) {
		super(ctx, env);
		const stored = ctx.storage.kv.get("meta");
		this.meta = stored === undefined ? null : OperationMeta.parse(stored);
	}

	/** Records the operation and starts it (its first chunk runs in the alarm). Idempotent. */
	async begin(input: BeginOperationInput): Promise<OperationRecord> {
		return toRecord(this.meta ?? (await this.start(input)));
	}

	/**
	 * begin() for a request with an Idempotency-Key (this object is named by the key): a repeat of
	 * the request that started the operation (same `fingerprint`) answers it as `replayed`; another
	 * request with the key is a `conflict`.
	 */
	async beginOnce(input: BeginOperationInput, fingerprint: string): Promise<BeginOperationResult> {
		if (this.meta) return this.meta.fingerprint === fingerprint ? { kind: "replayed", record: toRecord(this.meta) } : { kind: "conflict" };
		return { kind: "started", record: toRecord(await this.start(input, fingerprint)) };
	}

	private async start(input: BeginOperationInput, fingerprint?: string): Promise<OperationMeta> {
		const now = Date.now();
		let source: Pick<OperationMeta, "idCount" | "filter" | "matched">;
		if ("ids" in input) {
			const ids = [...new Set(input.ids)];
			this.ctx.storage.kv.put("ids", ids);
			source = { idCount: ids.length, matched: ids.length };
		} else {
			source = { filter: snapshot(input.filter, input.action, now), matched: 0 };
		}
		this.meta = {
			id: this.ctx.id.toString(),
			action: input.action,
			state: "running",
			...source,
			position: 0,
			cursor: null,
			listFailures: 0,
			done: 0,
			skipped: 0,
			failed: 0,
			skippedByStatus: {},
			errors: [],
			createdAt: now,
			updatedAt: now,
			...(fingerprint === undefined ? {} : { fingerprint }),
		};
		this.ctx.storage.kv.put("meta", this.meta);
		await this.ctx.storage.setAlarm(now);
		return this.meta;
	}

	async get(): Promise<OperationRecord | null> {
		return this.meta ? toRecord(this.meta) : null;
	}

	/**
	 * Stops a running operation (see the top of this file). Cancelling a cancelled one answers the
	 * same again; one that ended otherwise is a conflict. null: no such operation.
	 */
	async cancel(): Promise<CancelOperationResult | null> {
		const meta = this.meta;
		if (!meta) return null;
		if (meta.state === "cancelled") return { kind: "cancelled", record: toRecord(meta) };
		if (meta.state !== "running") return { kind: "conflict", state: meta.state };
		await this.save({ ...meta, state: "cancelled", finishedAt: Date.now() });
		// A chunk under way stops at its next task and saves what it did: answer with those counts.
		await this.chunk?.catch(() => undefined);
		return { kind: "cancelled", record: toRecord(this.meta ?? meta) };
	}

	override async alarm(): Promise<void> {
		const meta = this.meta;
		const now = Date.now();
		if (!meta) {
			await this.ctx.storage.deleteAll();
			return;
		}
		if (meta.state !== "running") {
			// Retention: an ended operation is kept as long as a finished task's record.
			const until = (meta.finishedAt ?? meta.updatedAt) + readConfig(this.env).RESULT_TTL_SECONDS * 1000;
			if (now >= until) {
				await this.ctx.storage.deleteAll();
				this.meta = null;
			} else {
				await this.ctx.storage.setAlarm(until);
			}
			return;
		}
		const chunk = meta.filter ? this.nextPage(meta, meta.filter, now) : this.nextIds(meta);
		this.chunk = chunk;
		try {
			await chunk;
		} finally {
			if (this.chunk === chunk) this.chunk = null;
		}
	}

	/** Ids mode: the next CHUNK_SIZE of the stored ids are one chunk. */
	private async nextIds(meta: OperationMeta): Promise<void> {
		const ids = Ids.parse(this.ctx.storage.kv.get("ids") ?? []);
		const chunk = ids.slice(meta.position, meta.position + CHUNK_SIZE);
		const next = { ...meta, ...(await this.applyToChunk(meta, chunk)).counts, position: meta.position + chunk.length };
		await this.save(next.position >= ids.length ? finished(next) : next);
	}

	/** Filter mode: one page of the task index is one chunk. */
	private async nextPage(meta: OperationMeta, filter: TaskFilter, now: number): Promise<void> {
		let page: Awaited<ReturnType<typeof listTasks>>;
		try {
			page = await listTasks(this.env, { ...filter, limit: CHUNK_SIZE, cursor: meta.cursor ?? undefined });
		} catch {
			const listFailures = meta.listFailures + 1;
			if (listFailures >= MAX_LIST_FAILURES) {
				const error = `The task index could not be read (${listFailures} tries); tasks not reached by then were left alone.`;
				await this.save(finished({ ...meta, listFailures, error }));
			} else {
				await this.save({ ...meta, listFailures }, now + 2 ** listFailures * 1000);
			}
			return;
		}
		const ids = page.tasks.map((task) => task.id);
		const { counts, reached } = await this.applyToChunk(meta, ids);
		const next = {
			...meta,
			...counts,
			matched: meta.matched + reached,
			cursor: page.nextCursor,
			listFailures: 0,
		};
		await this.save(page.nextCursor === null ? finished(next) : next);
	}

	/** Applies the action to every task of the chunk; returns the updated counts and how many tasks it reached. */
	private async applyToChunk(meta: OperationMeta, ids: string[]): Promise<{ counts: Partial<OperationMeta>; reached: number }> {
		const ifStatus = meta.filter?.status ?? BULK_ACTION_STATUSES[meta.action];
		const results = await mapPool(ids, CONCURRENCY, (id) =>
			// Looked at before each call: a cancel stops the chunk it arrives in.
			this.meta?.state === "cancelled" ? Promise.resolve<TaskResult>({ kind: "not-reached" }) : this.applyTo(meta.action, id, ifStatus),
		);
		if (meta.action === "retry") {
			// One sendBatch for the chunk; if it fails, each retried task's alarm sends it later.
			const messages = ids.flatMap((id, i) => {
				const result = results[i];
				return result?.kind === "done" ? [{ body: { id, type: result.type } }] : [];
			});
			if (messages.length > 0) await sendOrLeaveToAlarm(this.env, messages);
		}
		const counts = { done: meta.done, skipped: meta.skipped, failed: meta.failed };
		const skippedByStatus = { ...meta.skippedByStatus };
		const errors = [...meta.errors];
		results.forEach((result, i) => {
			if (result.kind === "done") counts.done++;
			else if (result.kind === "skipped") {
				counts.skipped++;
				skippedByStatus[result.reason] = (skippedByStatus[result.reason] ?? 0) + 1;
			} else if (result.kind === "failed") {
				counts.failed++;
				if (errors.length < MAX_ERRORS) errors.push({ id: ids[i] ?? "", message: result.message });
			}
		});
		const reached = results.filter((result) => result.kind !== "not-reached").length;
		return { counts: { ...counts, skippedByStatus, errors }, reached };
	}

	/** One task: the action through its own object, tried twice (once after a cancel) before it counts as failed. */
	private async applyTo(action: BulkAction, id: string, ifStatus: readonly TaskStatus[]): Promise<TaskResult> {
		const stub = findTaskStub(this.env, id);
		if (!stub) return { kind: "skipped", reason: "not-found" };
		for (let attempt = 1; ; attempt++) {
			try {
				// ifStatus: only what the action changes (an already cancelled task is skipped, not "done"
				// again) and, with a filter, only the statuses it asked for.
				const result =
					action === "retry"
						? await stub.retry({ ifStatus })
						: action === "cancel"
							? await stub.cancel({ ifStatus })
							: await stub.delete({ ifStatus });
				if (result.kind === "not-found") return { kind: "skipped", reason: "not-found" };
				if (result.kind === "conflict") return { kind: "skipped", reason: result.status };
				return { kind: "done", type: result.kind === "retried" ? result.type : undefined };
			} catch (error) {
				// No second try once the operation was cancelled: no task call starts after a cancel.
				if (attempt >= 2 || this.meta?.state === "cancelled") {
					// Not the error's text: it may describe internals.
					const name = error instanceof Error ? error.name : "Error";
					return { kind: "failed", message: `The task's Durable Object could not be reached (${name}).` };
				}
			}
		}
	}

	/** Saves; the alarm runs the next chunk at `nextChunkAt` (default: at once), or retention once ended. */
	private async save(meta: OperationMeta, nextChunkAt = Date.now()): Promise<void> {
		// A cancel that came while a chunk ran stands: the chunk's counts are kept, and nothing more runs.
		const current = this.meta;
		const cancelled = current?.state === "cancelled" ? { state: current.state, finishedAt: current.finishedAt } : {};
		this.meta = { ...meta, ...cancelled, updatedAt: Date.now() };
		this.ctx.storage.kv.put("meta", this.meta);
		const ttl = readConfig(this.env).RESULT_TTL_SECONDS * 1000;
		await this.ctx.storage.setAlarm(this.meta.state === "running" ? nextChunkAt : (this.meta.finishedAt ?? Date.now()) + ttl);
	}
}

/**
 * The filter as the operation applies it: `status` narrowed to what the action applies to, and
 * `createdBefore` (exclusive) no later than the operation's creation, so that tasks submitted
 * while it runs are left alone and its pages cannot grow without end.
 */
function snapshot(filter: TaskFilter, action: BulkAction, now: number): TaskFilter {
	const applies = BULK_ACTION_STATUSES[action];
	const status = (filter.status ?? applies).filter((s) => applies.includes(s));
	const bound = now + 1;
	const before = filter.createdBefore === undefined ? bound : Math.min(Date.parse(filter.createdBefore), bound);
	return { ...filter, status, createdBefore: new Date(before).toISOString() };
}

function finished(meta: OperationMeta): OperationMeta {
	return { ...meta, state: meta.failed > 0 || meta.error !== undefined ? "failed" : "succeeded", finishedAt: Date.now() };
}

function toRecord(meta: OperationMeta): OperationRecord {
	return {
		id: meta.id,
		action: meta.action,
		state: meta.state,
		ids: meta.idCount,
		filter: meta.filter,
		matched: meta.matched,
		done: meta.done,
		skipped: meta.skipped,
		failed: meta.failed,
		skippedByStatus: meta.skippedByStatus,
		errors: meta.errors,
		error: meta.error,
		createdAt: new Date(meta.createdAt).toISOString(),
		updatedAt: new Date(meta.updatedAt).toISOString(),
		finishedAt: meta.finishedAt === undefined ? undefined : new Date(meta.finishedAt).toISOString(),
	};
}

/** Runs `work` on every item with at most `concurrency` at a time; results in item order. */
async function mapPool<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
	const results = new Array<R>(items.length);
	const queue = items.entries();
	const worker = async () => {
		for (const [index, item] of queue) results[index] = await work(item);
	};
	await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
	return results;
}
