// One shard of the task index: a SQLite Durable Object holding one small row per task whose id
// hashes to it (see task-index-stub.ts). Task objects stay the source of truth; they write their
// summary here after every change (task-index-writer.ts), and lists and stats read from here.
//
// Cost is rows written, so the layout is minimal:
//   tasks      one row per task, keyed by (created_at, id): the list order, no rowid.
//              Its one secondary index covers only failed and cancelled tasks (the ones operators
//              look for among many succeeded ones); other statuses are found by scanning newest
//              first, which stops after one page.
//   task_tags  one row per tag of a tagged task (untagged tasks cost nothing).
//   counts     tasks per (status, type), and minutes: created/succeeded/failed per minute. Both are
//              kept as in-memory deltas and written at most once a second, so a busy shard writes
//              a handful of counter rows per second, not one per task. The alarm recounts
//              (repairing deltas lost when the object died) and prunes rows past retention.
// The hourly alarm also re-checks rows of unfinished tasks that have not changed for an hour
// against their task objects: a write lost to a crash (after the task changed, before its row
// was written) is repaired within two hours even when nothing else repeats it.
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { readConfig } from "../config";
import type { InternalEnv } from "../environment";
import { findTaskStub } from "./task-stub";
import { isTerminal, type TaskStatus, TaskStatus as TaskStatusSchema, type TaskSummary } from "../schemas";

/** What a task object writes: its summary, with times in epoch ms. */
export type IndexEntry = {
	id: string;
	type: string;
	status: TaskStatus;
	tags: string[];
	attempts: number;
	maxAttempts: number;
	createdAt: number;
	updatedAt: number;
	startedAt?: number;
	finishedAt?: number;
	errorName?: string;
};

/** One shard's part of a list query. `before`: the cursor (exclusive); `from` inclusive, `until` exclusive. */
export type ShardQuery = {
	statuses?: TaskStatus[];
	type?: string;
	tag?: string;
	from?: number;
	until?: number;
	before?: { at: number; id: string };
	limit: number;
};

/** A listed task with its position (createdAt in ms), for merging shards. */
export type IndexedSummary = { at: number; summary: TaskSummary };

export type ShardStats = {
	counts: { status: TaskStatus; type: string; n: number }[];
	minutes: { minute: number; created: number; succeeded: number; failed: number }[];
};

const Row = z.object({
	created_at: z.number(),
	id: z.string(),
	type: z.string(),
	status: TaskStatusSchema,
	tags: z.string().nullable(),
	attempts: z.number(),
	max_attempts: z.number(),
	updated_at: z.number(),
	started_at: z.number().nullable(),
	finished_at: z.number().nullable(),
	error_name: z.string().nullable(),
});
const Tags = z.array(z.string());
const Previous = z.object({ status: TaskStatusSchema, updated_at: z.number() });
const CountRow = z.object({ status: TaskStatusSchema, type: z.string(), n: z.number() });
const MinuteRow = z.object({ minute: z.number(), created: z.number(), succeeded: z.number(), failed: z.number() });
const Victim = z.object({ created_at: z.number(), id: z.string(), tags: z.string().nullable() });
const Unfinished = z.object({ created_at: z.number(), id: z.string() });

/** Counter deltas are written at most this often. */
const FLUSH_EVERY_MS = 1000;
/** The alarm prunes and recounts this often. */
const MAINTAIN_EVERY_MS = 3600_000;
/** Rows deleted per alarm run at most (a big backlog of expired rows is pruned over several runs). */
const PRUNE_BATCH = 5000;
/** A non-terminal row untouched for this long (on top of retention) belongs to a task long gone. */
const ABANDONED_AFTER_MS = 366 * 24 * 3600_000;
/** An unfinished task's row unchanged for this long is re-checked against its object by the alarm. */
const RECHECK_AFTER_MS = 3600_000;
/** Rows re-checked per alarm run at most (the longest-unchanged first; the rest in later runs). */
const RECHECK_BATCH = 200;
const MINUTE = 60_000;
/** Statuses covered by the partial index; the SQL text must match the index's WHERE exactly. */
const INDEXED_STATUSES = ["failed", "cancelled"] as const;
const INDEXED_STATUSES_SQL = "status IN ('failed', 'cancelled')";

export class TaskIndexObject extends DurableObject<InternalEnv> {
	private readonly sql: SqlStorage;
	private countDeltas = new Map<string, { status: TaskStatus; type: string; n: number }>();
	private minuteDeltas = new Map<number, { created: number; succeeded: number; failed: number }>();
	private flushTimer: ReturnType<typeof setTimeout> | null = null;
	private alarmChecked = false;
	/** Rows written by this instance (SQLite's own count, index entries included). */
	private rowsWritten = 0;

	constructor(ctx: DurableObjectState, env: InternalEnv) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		// Synchronous SQL: the schema exists before any call is served.
		this.sql.exec(`
			CREATE TABLE IF NOT EXISTS tasks (
				created_at INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,
				tags TEXT, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL, updated_at INTEGER NOT NULL,
				started_at INTEGER, finished_at INTEGER, error_name TEXT,
				PRIMARY KEY (created_at, id)
			) WITHOUT ROWID;
			CREATE INDEX IF NOT EXISTS tasks_ended_badly ON tasks (status, created_at, id) WHERE ${INDEXED_STATUSES_SQL};
			CREATE TABLE IF NOT EXISTS task_tags (
				tag TEXT NOT NULL, created_at INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tag, created_at, id)
			) WITHOUT ROWID;
			CREATE TABLE IF NOT EXISTS counts (
				status TEXT NOT NULL, type TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (status, type)
			) WITHOUT ROWID;
			CREATE TABLE IF NOT EXISTS minutes (
				minute INTEGER PRIMARY KEY, created INTEGER NOT NULL, succeeded INTEGER NOT NULL, failed INTEGER NOT NULL
			);
		`);
	}

	/**
	 * Records a task's summary. Idempotent and ordered by `updatedAt`: an older or repeated summary
	 * (a late retry of a write, a repair of a write that did arrive) changes nothing and writes nothing.
	 */
	async put(entry: IndexEntry): Promise<{ stored: boolean }> {
		const stored = this.apply(entry);
		await this.ensureAlarm();
		return { stored };
	}

	/** put() for several tasks at once (a batch submit writes each shard's share in one call). */
	async putMany(entries: IndexEntry[]): Promise<void> {
		for (const entry of entries) this.apply(entry);
		await this.ensureAlarm();
	}

	private apply(entry: IndexEntry): boolean {
		// A task that has not started is most likely new here (its first row, written at submit):
		// one statement inserts it, and only when its row exists already is it read and compared.
		if (entry.status === "queued" && entry.attempts === 0 && this.insert(entry)) return true;
		const previous = this.query("SELECT status, updated_at FROM tasks WHERE created_at = ? AND id = ?", entry.createdAt, entry.id).map(
			(row) => Previous.parse(row),
		)[0];
		if (!previous) return this.insert(entry);
		if (previous.updated_at >= entry.updatedAt) return false;
		this.query(
			"UPDATE tasks SET status = ?, attempts = ?, updated_at = ?, started_at = ?, finished_at = ?, error_name = ? WHERE created_at = ? AND id = ?",
			...changingColumns(entry),
			entry.createdAt,
			entry.id,
		);
		if (previous.status !== entry.status) {
			this.count(previous.status, entry.type, -1);
			this.count(entry.status, entry.type, 1);
		}
		if (!isTerminal(previous.status)) this.countFinished(entry);
		return true;
	}

	/** Inserts a task's row unless it has one; true if it was inserted. */
	private insert(entry: IndexEntry): boolean {
		const inserted = this.write(
			"INSERT INTO tasks (status, attempts, updated_at, started_at, finished_at, error_name, created_at, id, type, tags, max_attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			...changingColumns(entry),
			entry.createdAt,
			entry.id,
			entry.type,
			entry.tags.length > 0 ? JSON.stringify(entry.tags) : null,
			entry.maxAttempts,
		);
		if (inserted === 0) return false;
		for (const tag of entry.tags) {
			this.query("INSERT OR IGNORE INTO task_tags (tag, created_at, id) VALUES (?, ?, ?)", tag, entry.createdAt, entry.id);
		}
		this.count(entry.status, entry.type, 1);
		this.minute(entry.createdAt, "created");
		this.countFinished(entry);
		return true;
	}

	/** Counts a task that has just reached succeeded or failed in the minute it finished. */
	private countFinished(entry: IndexEntry): void {
		if (entry.status === "succeeded" || entry.status === "failed") this.minute(entry.finishedAt ?? entry.updatedAt, entry.status);
	}

	/** Removes a task's row now (a task deleted before its retention ended). */
	remove(createdAt: number, id: string): boolean {
		const row = this.query("SELECT * FROM tasks WHERE created_at = ? AND id = ?", createdAt, id).map((r) => Row.parse(r))[0];
		if (!row) return false;
		this.deleteRow(row.created_at, row.id, row.tags);
		this.count(row.status, row.type, -1);
		return true;
	}

	/** Up to `limit` matching tasks, newest first, strictly after the cursor. */
	list(query: ShardQuery): IndexedSummary[] {
		// With a tag, the walk runs along that tag's rows; otherwise along the table itself.
		const key = query.tag === undefined ? "t" : "g";
		const where: string[] = [];
		const params: (string | number)[] = [];
		if (query.tag !== undefined) {
			where.push("g.tag = ?");
			params.push(query.tag);
		}
		if (query.before) {
			where.push(`(${key}.created_at, ${key}.id) < (?, ?)`);
			params.push(query.before.at, query.before.id);
		}
		if (query.from !== undefined) {
			where.push(`${key}.created_at >= ?`);
			params.push(query.from);
		}
		if (query.until !== undefined) {
			where.push(`${key}.created_at < ?`);
			params.push(query.until);
		}
		if (query.type !== undefined) {
			where.push("t.type = ?");
			params.push(query.type);
		}
		const statuses = [...new Set(query.statuses ?? [])];
		if (statuses.length > 0) {
			where.push(`t.status IN (${statuses.map(() => "?").join(", ")})`);
			params.push(...statuses);
			// Lets SQLite use the partial index: its WHERE must appear verbatim in the query's.
			const indexed: readonly string[] = INDEXED_STATUSES;
			if (query.tag === undefined && statuses.every((s) => indexed.includes(s))) where.push(`t.${INDEXED_STATUSES_SQL}`);
		}
		const from = query.tag === undefined ? "tasks t" : "task_tags g JOIN tasks t ON t.created_at = g.created_at AND t.id = g.id";
		const sql = `SELECT t.* FROM ${from} ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${key}.created_at DESC, ${key}.id DESC LIMIT ?`;
		return this.query(sql, ...params, query.limit).map((r) => {
			const row = Row.parse(r);
			return { at: row.created_at, summary: toSummary(row) };
		});
	}

	/** Counts per (status, type) and the per-minute counters since `since` (epoch ms). */
	stats(since: number): ShardStats {
		this.flush();
		return {
			counts: this.query("SELECT status, type, n FROM counts WHERE n > 0").map((r) => CountRow.parse(r)),
			minutes: this.query("SELECT minute, created, succeeded, failed FROM minutes WHERE minute >= ? ORDER BY minute", since).map((r) =>
				MinuteRow.parse(r),
			),
		};
	}

	/** Prunes rows past retention, then recounts; runs every MAINTAIN_EVERY_MS. */
	override async alarm(): Promise<void> {
		const now = Date.now();
		const cutoff = now - readConfig(this.env).RESULT_TTL_SECONDS * 1000;
		// A row can expire only if its task was created before the cutoff: the scan stays in that range.
		const victims = this.query(
			"SELECT created_at, id, tags FROM tasks WHERE created_at < ? AND (finished_at < ? OR updated_at < ?) LIMIT ?",
			cutoff,
			cutoff,
			cutoff - ABANDONED_AFTER_MS,
			PRUNE_BATCH,
		).map((r) => Victim.parse(r));
		for (const victim of victims) this.deleteRow(victim.created_at, victim.id, victim.tags);
		this.flush();
		// Exact again, whatever deltas a dead object instance lost.
		this.countDeltas.clear();
		this.query("DELETE FROM counts");
		this.query("INSERT INTO counts (status, type, n) SELECT status, type, count(*) FROM tasks GROUP BY status, type");
		this.query("DELETE FROM minutes WHERE minute < ?", now - 2 * 3600_000);
		await this.recheck(now);
		await this.ctx.storage.setAlarm(victims.length === PRUNE_BATCH ? now + 1000 : now + MAINTAIN_EVERY_MS);
	}

	/**
	 * Asks the objects of unfinished tasks whose rows have not changed for RECHECK_AFTER_MS for their
	 * summary, and stores it (a lost write) or removes the row (the task is gone). Tasks waiting
	 * that long cost one read-only call an hour each, at most RECHECK_BATCH per shard.
	 */
	private async recheck(now: number): Promise<void> {
		const rows = this.query(
			"SELECT created_at, id FROM tasks WHERE status IN ('queued', 'running', 'retrying') AND updated_at < ? ORDER BY updated_at LIMIT ?",
			now - RECHECK_AFTER_MS,
			RECHECK_BATCH,
		).map((r) => Unfinished.parse(r));
		await Promise.all(
			rows.map(async (row) => {
				const task = findTaskStub(this.env, row.id);
				// Unreachable now: asked again at the next run.
				const entry = task === null ? null : await task.indexEntry().catch(() => undefined);
				if (entry === undefined) return;
				if (entry === null || entry.createdAt !== row.created_at) this.remove(row.created_at, row.id);
				if (entry !== null) this.apply(entry);
			}),
		);
	}

	/** Runs one statement; counts the rows it wrote (the cost model's figures are checked against it). */
	private query(sql: string, ...bindings: SqlStorageValue[]): Record<string, SqlStorageValue>[] {
		const cursor = this.sql.exec(sql, ...bindings);
		const rows = cursor.toArray();
		this.rowsWritten += cursor.rowsWritten;
		return rows;
	}

	/** Runs one statement that returns no rows; the rows it wrote (index entries included). */
	private write(sql: string, ...bindings: SqlStorageValue[]): number {
		const cursor = this.sql.exec(sql, ...bindings);
		cursor.toArray();
		this.rowsWritten += cursor.rowsWritten;
		return cursor.rowsWritten;
	}

	private deleteRow(createdAt: number, id: string, tags: string | null): void {
		for (const tag of tags === null ? [] : Tags.parse(JSON.parse(tags))) {
			this.query("DELETE FROM task_tags WHERE tag = ? AND created_at = ? AND id = ?", tag, createdAt, id);
		}
		this.query("DELETE FROM tasks WHERE created_at = ? AND id = ?", createdAt, id);
	}

	private async ensureAlarm(): Promise<void> {
		if (this.alarmChecked) return;
		this.alarmChecked = true;
		if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + MAINTAIN_EVERY_MS);
	}

	private count(status: TaskStatus, type: string, n: number): void {
		const key = `${status}\u0000${type}`;
		const delta = this.countDeltas.get(key) ?? { status, type, n: 0 };
		delta.n += n;
		this.countDeltas.set(key, delta);
		this.scheduleFlush();
	}

	private minute(at: number, what: "created" | "succeeded" | "failed"): void {
		const minute = at - (at % MINUTE);
		const delta = this.minuteDeltas.get(minute) ?? { created: 0, succeeded: 0, failed: 0 };
		delta[what] += 1;
		this.minuteDeltas.set(minute, delta);
		this.scheduleFlush();
	}

	private scheduleFlush(): void {
		this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_EVERY_MS);
	}

	/** Writes the counter deltas: one row per (status, type) and per minute touched since the last flush. */
	private flush(): void {
		if (this.flushTimer !== null) clearTimeout(this.flushTimer);
		this.flushTimer = null;
		for (const { status, type, n } of this.countDeltas.values()) {
			if (n === 0) continue;
			this.query(
				"INSERT INTO counts (status, type, n) VALUES (?, ?, ?) ON CONFLICT (status, type) DO UPDATE SET n = n + excluded.n",
				status,
				type,
				n,
			);
		}
		for (const [minute, { created, succeeded, failed }] of this.minuteDeltas) {
			this.query(
				"INSERT INTO minutes (minute, created, succeeded, failed) VALUES (?, ?, ?, ?) ON CONFLICT (minute) DO UPDATE SET created = created + excluded.created, succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed",
				minute,
				created,
				succeeded,
				failed,
			);
		}
		this.countDeltas.clear();
		this.minuteDeltas.clear();
	}
}

function toSummary(row: z.infer<typeof Row>): TaskSummary {
	const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());
	return {
		id: row.id,
		type: row.type,
		status: row.status,
		tags: row.tags === null ? [] : Tags.parse(JSON.parse(row.tags)),
		attempts: row.attempts,
		maxAttempts: row.max_attempts,
		createdAt: new Date(row.created_at).toISOString(),
		updatedAt: new Date(row.updated_at).toISOString(),
		startedAt: iso(row.started_at),
		finishedAt: iso(row.finished_at),
		errorName: row.error_name ?? undefined,
	};
}

/** The columns a later status change rewrites, in the order both the INSERT and the UPDATE list them. */
function changingColumns(entry: IndexEntry): SqlStorageValue[] {
	return [entry.status, entry.attempts, entry.updatedAt, entry.startedAt ?? null, entry.finishedAt ?? null, entry.errorName ?? null];
}
