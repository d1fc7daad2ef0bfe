// A limiter: one Durable Object per task type with limits (`type:<type>`: its `concurrency` and
// `rateLimit`) and one per (type, key) (`keyConcurrency`, `keyRateLimit` of one concurrencyKey).
// It grants permits to attempts; the task's own object asks for them when it starts an attempt and
// gives them back when the attempt ends (see TaskObject.start and its transitions), so a permit
// lives exactly as long as the attempt it was granted to.
//
// - Concurrency: a granted permit is a row until it is released. The limiter never takes a permit
//   back on its own clock: when a permit's holder has not been heard of for a while (its release may
//   have been lost), it asks the task's object, which is the authority on its attempt's lease, and
//   reclaims the permit only once the object says the attempt is over. So at most `concurrency`
//   attempts of the scope hold live leases at once, whatever crashes.
// - Rate: starts are spaced evenly, one every period / limit (+1 ms, so that no window of the
//   period, open or closed, holds more than `limit`): a GCRA-style clock `next`. A grant names its
//   start time, up to LOOKAHEAD_MS ahead; the task records that time as the attempt's start and the
//   consumer waits for it before running the handler.
// - Waiting: a task that cannot be admitted becomes a waiter (the task stays queued, its message
//   acked). Waiters are ordered by `since - priority * PRIORITY_STEP_MS` (a higher priority goes
//   ahead of tasks that started waiting up to 30 s per level earlier, never further: no task starves).
//   When room frees, the best waiter gets a reserved permit and the alarm wakes its task, which
//   sends itself to the queue again; its start then takes the reservation. Nothing polls.
// - Key limiters report their usage to their type's limiter (coalesced, at most every 2 s), which
//   GET /v1/limits shows; the type's limiter also keeps the type's override (PUT /v1/limits/{type}).
import type { InternalEnv } from "../environment";
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { LEASE_ALARM_SLACK_SECONDS, LEASE_SECONDS } from "../config";
import { type KeysUsage, type LimiterUsage, LimitsOverride, RateLimit } from "../limit-schemas";
import { LimiterScope, limiterName, limiterStub, typeLimiterStub } from "./limiter-stub";
import { findTaskStub } from "./task-stub";

/** The limits one limiter enforces (null: none), as computed by the caller from code and override. */
export type LimitSpec = z.infer<typeof LimitSpec>;
const LimitSpec = z.object({ concurrency: z.int().min(1).nullable(), rateLimit: RateLimit.nullable() });

/**
 * The limiters an attempt of a type needs: its type's own (`type`) and, for a task with a
 * concurrencyKey, its key's (`key`); null where the type has no such limits (worked out in
 * limits.ts). `version` is the override's, so a limiter ignores limits older than the ones it has.
 */
export type AttemptLimits = { version: number; type: LimitSpec | null; key: LimitSpec | null };

export type AcquireRequest = {
	limiter: LimiterScope;
	limits: LimitSpec;
	/** Of the override the limits were computed with: older limits than the stored ones are ignored. */
	version: number;
	taskId: string;
	/** The attempt the permit is for (one permit per task; a newer attempt's replaces an older one's). */
	attempt: number;
	priority: number;
	/** When the task began waiting for this attempt: its place in line, with its priority. */
	since: number;
};
/**
 * `granted`: start at `startAt` (epoch ms, at most LOOKAHEAD_MS ahead); `holds`: a permit is held
 * and must be released when the attempt ends. `wait`: the task is in line and will be woken
 * (`TaskObject.wake`). `stale`: a newer attempt of the task already holds a permit here.
 */
export type AcquireResult =
	| { kind: "granted"; startAt: number; holds: boolean }
	| { kind: "wait"; reason: "concurrency" | "rate" }
	| { kind: "stale" };
export type ReleaseResult = { kind: "released"; freed: boolean };
/** What a task answers when woken: `declined` when it no longer waits (cancelled, gone, running). */
export type WakeResult = { kind: "accepted" } | { kind: "declined" };
/** What a task answers when asked about its permit: held (its attempt's lease runs `until`), or over. */
export type PermitState = { kind: "held"; until: number } | { kind: "released" };
export type OverrideRecord = { override: LimitsOverride | null; version: number };
export type LimiterDescription = { override: LimitsOverride | null; version: number; usage: LimiterUsage; keys: KeysUsage };
export type Done = { kind: "done" };

/** A rate-limited grant may name a start time this far ahead (the consumer waits for it). */
export const LOOKAHEAD_MS = 1000;
/** Each priority level is worth this much waiting time in the line. */
export const PRIORITY_STEP_MS = 30_000;
/** A permit whose holder was not heard of for this long is checked with the task's object. */
export const CHECK_AFTER_MS = (LEASE_SECONDS + LEASE_ALARM_SLACK_SECONDS + 15) * 1000;
/** After a held lease's end, the task's own alarm releases the permit within 15 s; checked after this. */
const CHECK_SLACK_MS = (LEASE_ALARM_SLACK_SECONDS + 15) * 1000;
const WAKE_RETRY_BASE_MS = 1000;
const WAKE_RETRY_MAX_MS = 60_000;
const CHECK_RETRY_MS = 30_000;
/** Key usage reaches the type's limiter at most this often (GET /v1/limits). */
const REPORT_EVERY_MS = 2000;
const REPORT_RETRY_MS = 10_000;
/** An idle limiter (nothing held, nobody waiting, no override) deletes its storage after this. */
const IDLE_CLEANUP_MS = 60_000;
/** Task objects called per alarm run, and waiters admitted per call (the rest follow at once). */
const CALLS_PER_ALARM = 100;
const ADMITS_PER_PUMP = 1000;

const LimiterState = z.object({
	limiter: LimiterScope.optional(),
	limits: LimitSpec.optional(),
	limitsVersion: z.number().default(0),
	/** Rate: the earliest start time of the next grant. */
	next: z.number().default(0),
	/** Type limiters only. */
	override: LimitsOverride.nullable().default(null),
	overrideVersion: z.number().default(0),
	/** Key limiters: when their usage is to be reported next, and what they reported last. */
	reportDueAt: z.number().optional(),
	reported: z.object({ running: z.int(), waiting: z.int() }).optional(),
});
type LimiterState = z.infer<typeof LimiterState>;

const PermitRow = z.object({ task_id: z.string(), attempt: z.number(), state: z.enum(["reserved", "held"]), start_at: z.number() });
const DueRow = z.object({ task_id: z.string(), attempt: z.number(), wake_failures: z.number() });
const WaiterRow = z.object({ task_id: z.string(), attempt: z.number() });
const CountRow = z.object({ n: z.number() });
const TimeRow = z.object({ at: z.number().nullable() });
const KeyRow = z.object({ key: z.string(), running: z.number(), waiting: z.number() });
const KeyTotals = z.object({ active: z.number(), running: z.number().nullable(), waiting: z.number().nullable() });

const SCHEMA = `
	CREATE TABLE IF NOT EXISTS permits (
		task_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL,
		state TEXT NOT NULL,          -- 'reserved' (granted to a waiter, not started yet) | 'held'
		start_at INTEGER NOT NULL,    -- the start time granted (held)
		notified INTEGER NOT NULL,    -- 0 while the waiter's task has not been woken
		wake_at INTEGER NOT NULL, wake_failures INTEGER NOT NULL,
		check_at INTEGER NOT NULL     -- when to ask the task whether it still holds the permit
	) WITHOUT ROWID;
	CREATE TABLE IF NOT EXISTS waiters (task_id TEXT PRIMARY KEY, attempt INTEGER NOT NULL, score INTEGER NOT NULL) WITHOUT ROWID;
	CREATE INDEX IF NOT EXISTS waiters_in_line ON waiters (score, task_id);
	CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, running INTEGER NOT NULL, waiting INTEGER NOT NULL) WITHOUT ROWID;
`;

/** Milliseconds between two rate-limited starts. */
export function startInterval(rate: RateLimit): number {
	return Math.floor((rate.periodSeconds * 1000) / rate.limit) + 1;
}

export class LimiterObject extends DurableObject<InternalEnv> {
	private state: LimiterState;
	private schemaReady = false;
	/** The alarm as this instance last set it (undefined: not read yet). */
	private alarmAt: number | null | undefined;

	constructor(ctx: DurableObjectState, env: InternalEnv) {
		super(ctx, env);
		// Synchronous SQLite-backed storage: no blockConcurrencyWhile needed.
		this.state = LimiterState.parse(ctx.storage.kv.get("state") ?? {});
	}

	/** Grants a permit for the task's attempt, or puts it in line. Idempotent per (task, attempt). */
	async acquire(request: AcquireRequest): Promise<AcquireResult> {
		this.useLimits(request.limiter, request.limits, request.version);
		const now = Date.now();
		const own = this.permitOf(request.taskId);
		if (own && own.attempt > request.attempt) return { kind: "stale" };
		if (own && own.attempt === request.attempt) {
			if (own.state === "held") return { kind: "granted", startAt: own.start_at, holds: true };
			// Reserved for it while it waited: it starts now.
			return this.grant(request, now);
		}
		// An earlier attempt's permit: that attempt is over (its task asks only for its next one).
		if (own) this.exec("DELETE FROM permits WHERE task_id = ?", request.taskId);
		if (!this.hasWaiters() && this.hasRoom(now)) return this.grant(request, now);
		const score = Math.round(request.since) - request.priority * PRIORITY_STEP_MS;
		this.exec(
			"INSERT INTO waiters (task_id, attempt, score) VALUES (?, ?, ?) ON CONFLICT (task_id) DO UPDATE SET attempt = excluded.attempt, score = excluded.score",
			request.taskId,
			request.attempt,
			score,
		);
		this.admit(now);
		// Its turn came at once (room freed while the others in line were better placed, or none were).
		if (this.permitOf(request.taskId)?.attempt === request.attempt) return this.grant(request, now);
		this.changed(now);
		await this.rearm(now);
		return { kind: "wait", reason: this.waitReason() };
	}

	/** The attempt ended (or the task stopped waiting): frees its permit and its place in line. */
	async release(taskId: string, attempt: number): Promise<ReleaseResult> {
		const freed = this.exec("DELETE FROM permits WHERE task_id = ? AND attempt <= ?", taskId, attempt).rowsWritten > 0;
		const left = this.exec("DELETE FROM waiters WHERE task_id = ? AND attempt <= ?", taskId, attempt).rowsWritten > 0;
		if (freed || left) {
			const now = Date.now();
			this.admit(now);
			this.changed(now);
			await this.rearm(now);
		}
		return { kind: "released", freed };
	}

	/** New limits (an override changed): applied now, waiters admitted if there is room. */
	async updateLimits(limits: LimitSpec, version: number): Promise<Done> {
		if (this.state.limiter && this.useLimits(this.state.limiter, limits, version)) {
			const now = Date.now();
			this.admit(now);
			this.changed(now);
			await this.rearm(now);
		}
		return { kind: "done" };
	}

	// ---- The type's limiter: its override, and its keys' usage ----

	readOverride(): OverrideRecord {
		return { override: this.state.override, version: this.state.overrideVersion };
	}

	/**
	 * Stores the type's override (null: none) under a new version (later than any before, whatever
	 * the callers' clocks), applies `limits` (the type's own, in effect with it) and hands
	 * `keyLimits` to every key limiter with tasks running or waiting (the others get them with their
	 * next task). Waiters that now fit are admitted at once.
	 */
	async setOverride(type: string, override: LimitsOverride | null, limits: LimitSpec, keyLimits: LimitSpec): Promise<OverrideRecord> {
		const version = Math.max(Date.now(), this.state.overrideVersion + 1);
		this.save({ override, overrideVersion: version });
		const now = Date.now();
		if (this.useLimits({ scope: "type", type }, limits, version)) this.admit(now);
		this.changed(now);
		const keys = this.rows(KeyRow, "SELECT key, running, waiting FROM keys");
		await Promise.allSettled(keys.map((row) => this.keyLimiter(type, row.key).updateLimits(keyLimits, version)));
		await this.rearm(Date.now());
		return this.readOverride();
	}

	/** A key limiter's usage (0 and 0: it went idle). */
	reportKey(key: string, running: number, waiting: number): Done {
		if (running === 0 && waiting === 0) this.exec("DELETE FROM keys WHERE key = ?", key);
		else {
			this.exec(
				"INSERT INTO keys (key, running, waiting) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET running = excluded.running, waiting = excluded.waiting",
				key,
				running,
				waiting,
			);
		}
		return { kind: "done" };
	}

	/** For GET /v1/limits: the override, the permits in use and waiters here, and the keys' usage. */
	describe(): LimiterDescription {
		const now = Date.now();
		if (!this.hasSchema()) {
			// Never used (or cleaned up): nothing to count, and nothing is written to find that out.
			return {
				override: this.state.override,
				version: this.state.overrideVersion,
				usage: { running: 0, waiting: 0, nextStartAt: null },
				keys: { active: 0, running: 0, waiting: 0, busiest: [] },
			};
		}
		const rate = this.state.limits?.rateLimit;
		const totals = KeyTotals.parse(
			this.exec("SELECT count(*) AS active, sum(running) AS running, sum(waiting) AS waiting FROM keys").one(),
		);
		return {
			override: this.state.override,
			version: this.state.overrideVersion,
			usage: {
				running: this.count("SELECT count(*) AS n FROM permits"),
				waiting: this.count("SELECT count(*) AS n FROM waiters"),
				nextStartAt: rate && this.state.next > now ? new Date(this.state.next).toISOString() : null,
			},
			keys: {
				active: totals.active,
				running: totals.running ?? 0,
				waiting: totals.waiting ?? 0,
				busiest: this.rows(KeyRow, "SELECT key, running, waiting FROM keys ORDER BY running + waiting DESC, key LIMIT 10"),
			},
		};
	}

	/**
	 * Wakes the tasks that were given reserved permits, asks the holders of permits not heard of
	 * for a while whether their attempt is still on, admits waiters, reports a key's usage, and
	 * deletes an idle limiter's storage. Never throws: failed calls are tried again later.
	 */
	override async alarm(): Promise<void> {
		this.alarmAt = null;
		await this.wakeReserved();
		await this.checkHolders();
		const now = Date.now();
		if (this.admit(now)) this.changed(now);
		// After a restart the idle clock starts here.
		if (this.idleSince === undefined && this.isIdle()) this.idleSince = now;
		await this.report(now);
		if (this.isIdle() && now >= this.state.next && this.idleSince !== undefined && now - this.idleSince >= IDLE_CLEANUP_MS) {
			await this.ctx.storage.deleteAll();
			this.state = LimiterState.parse({});
			this.schemaReady = false;
			this.alarmAt = null;
			this.idleSince = undefined;
			return;
		}
		await this.rearm(now);
	}

	/** Since when nothing is held or waiting here (in memory: a restart merely postpones the clean-up). */
	private idleSince: number | undefined;

	// ---- Granting ----

	/** Takes the limits of a newer (or the same) override version; true if they changed. */
	private useLimits(limiter: LimiterScope, limits: LimitSpec, version: number): boolean {
		if (version < this.state.limitsVersion) return false;
		const same =
			JSON.stringify(this.state.limiter) === JSON.stringify(limiter) &&
			JSON.stringify(this.state.limits) === JSON.stringify(limits) &&
			this.state.limitsVersion === version;
		if (!same) this.save({ limiter, limits, limitsVersion: version });
		return !same;
	}

	private limits(): LimitSpec {
		return this.state.limits ?? { concurrency: null, rateLimit: null };
	}

	/** Gives the task its permit now (a new one, or its reservation): its start time is taken here. */
	private async grant(request: AcquireRequest, now: number): Promise<AcquireResult> {
		const { concurrency, rateLimit } = this.limits();
		let startAt = now;
		if (rateLimit) {
			startAt = Math.max(now, this.state.next);
			this.save({ next: startAt + startInterval(rateLimit) });
		}
		const holds = concurrency !== null;
		if (holds) {
			this.exec(
				`INSERT INTO permits (task_id, attempt, state, start_at, notified, wake_at, wake_failures, check_at) VALUES (?, ?, 'held', ?, 1, 0, 0, ?)
				 ON CONFLICT (task_id) DO UPDATE SET attempt = excluded.attempt, state = 'held', start_at = excluded.start_at, notified = 1, check_at = excluded.check_at`,
				request.taskId,
				request.attempt,
				startAt,
				now + CHECK_AFTER_MS,
			);
		} else {
			this.exec("DELETE FROM permits WHERE task_id = ?", request.taskId);
		}
		this.exec("DELETE FROM waiters WHERE task_id = ?", request.taskId);
		this.changed(now);
		await this.rearm(now);
		return { kind: "granted", startAt, holds };
	}

	/** Whether one more attempt may be admitted now: a free slot, and a start time within LOOKAHEAD_MS. */
	private hasRoom(now: number): boolean {
		const { concurrency, rateLimit } = this.limits();
		if (concurrency !== null && this.count("SELECT count(*) AS n FROM permits") >= concurrency) return false;
		return !rateLimit || this.projectedStart(now, rateLimit) <= now + LOOKAHEAD_MS;
	}

	/** The start time the next grant would get, after the reservations not yet taken. */
	private projectedStart(now: number, rate: RateLimit): number {
		const reserved = this.count("SELECT count(*) AS n FROM permits WHERE state = 'reserved'");
		return Math.max(now, this.state.next) + reserved * startInterval(rate);
	}

	/** Reserves permits for the best waiters while there is room; true if any was admitted. */
	private admit(now: number): boolean {
		let admitted = 0;
		while (admitted < ADMITS_PER_PUMP && this.hasRoom(now)) {
			const best = this.rows(WaiterRow, "SELECT task_id, attempt FROM waiters ORDER BY score, task_id LIMIT 1")[0];
			if (!best) break;
			this.exec(
				`INSERT INTO permits (task_id, attempt, state, start_at, notified, wake_at, wake_failures, check_at) VALUES (?, ?, 'reserved', 0, 0, ?, 0, ?)
				 ON CONFLICT (task_id) DO UPDATE SET attempt = excluded.attempt, state = 'reserved', notified = 0, wake_at = excluded.wake_at, wake_failures = 0, check_at = excluded.check_at`,
				best.task_id,
				best.attempt,
				now,
				now + CHECK_AFTER_MS,
			);
			this.exec("DELETE FROM waiters WHERE task_id = ?", best.task_id);
			admitted++;
		}
		return admitted > 0;
	}

	private waitReason(): "concurrency" | "rate" {
		const { concurrency } = this.limits();
		return concurrency !== null && this.count("SELECT count(*) AS n FROM permits") >= concurrency ? "concurrency" : "rate";
	}

	// ---- The alarm's calls to task objects ----

	/** Wakes the tasks whose reservations they have not heard of yet (the task re-sends itself). */
	private async wakeReserved(): Promise<void> {
		const limiter = this.state.limiter;
		if (!limiter) return;
		const name = limiterName(limiter);
		const due = this.rows(
			DueRow,
			"SELECT task_id, attempt, wake_failures FROM permits WHERE notified = 0 AND wake_at <= ? ORDER BY wake_at LIMIT ?",
			Date.now(),
			CALLS_PER_ALARM,
		);
		await Promise.all(
			due.map(async (permit) => {
				let result: WakeResult | null;
				try {
					const task = findTaskStub(this.env, permit.task_id);
					result = task ? await task.wake(name, permit.attempt) : { kind: "declined" };
				} catch {
					result = null;
				}
				const now = Date.now();
				// Only if the reservation is still unannounced: the task may have taken it meanwhile.
				const where = "WHERE task_id = ? AND attempt = ? AND notified = 0";
				if (result?.kind === "accepted") {
					this.exec(`UPDATE permits SET notified = 1, check_at = ? ${where}`, now + CHECK_AFTER_MS, permit.task_id, permit.attempt);
				} else if (result?.kind === "declined") {
					this.exec(`DELETE FROM permits ${where}`, permit.task_id, permit.attempt);
				} else {
					const backoff = Math.min(WAKE_RETRY_MAX_MS, WAKE_RETRY_BASE_MS * 2 ** Math.min(permit.wake_failures, 16));
					this.exec(
						`UPDATE permits SET wake_failures = wake_failures + 1, wake_at = ? ${where}`,
						now + backoff,
						permit.task_id,
						permit.attempt,
					);
				}
			}),
		);
		if (due.length > 0) this.changed(Date.now());
	}

	/**
	 * Asks the tasks holding permits not heard of for CHECK_AFTER_MS whether their attempt still
	 * holds its lease. Only the task's own answer frees a permit (never this object's clock), so a
	 * slow or unreachable task keeps its permit: the limit is never exceeded.
	 */
	private async checkHolders(): Promise<void> {
		const limiter = this.state.limiter;
		if (!limiter) return;
		const name = limiterName(limiter);
		const due = this.rows(
			WaiterRow,
			"SELECT task_id, attempt FROM permits WHERE notified = 1 AND check_at <= ? ORDER BY check_at LIMIT ?",
			Date.now(),
			CALLS_PER_ALARM,
		);
		await Promise.all(
			due.map(async (permit) => {
				let state: PermitState | null;
				try {
					const task = findTaskStub(this.env, permit.task_id);
					state = task ? await task.permitState(name, permit.attempt) : { kind: "released" };
				} catch {
					state = null;
				}
				const now = Date.now();
				const where = "WHERE task_id = ? AND attempt = ?";
				if (state?.kind === "released") this.exec(`DELETE FROM permits ${where}`, permit.task_id, permit.attempt);
				else {
					const checkAt = state ? Math.max(state.until, now) + CHECK_SLACK_MS : now + CHECK_RETRY_MS;
					this.exec(`UPDATE permits SET check_at = ? ${where}`, checkAt, permit.task_id, permit.attempt);
				}
			}),
		);
		if (due.length > 0) this.changed(Date.now());
	}

	/** A key limiter tells its type's limiter its usage when it changed (coalesced). */
	private async report(now: number): Promise<void> {
		const limiter = this.state.limiter;
		const due = this.state.reportDueAt;
		if (limiter?.scope !== "key" || due === undefined || due > now) return;
		const usage = { running: this.count("SELECT count(*) AS n FROM permits"), waiting: this.count("SELECT count(*) AS n FROM waiters") };
		const reported = this.state.reported ?? { running: 0, waiting: 0 };
		// Cleared first: a change while the report is under way schedules the next one.
		this.save({ reportDueAt: undefined });
		if (usage.running === reported.running && usage.waiting === reported.waiting) return;
		try {
			await typeLimiterStub(this.env, limiter.type).reportKey(limiter.key, usage.running, usage.waiting);
			this.save({ reported: usage });
		} catch {
			if (this.state.reportDueAt === undefined) this.save({ reportDueAt: Date.now() + REPORT_RETRY_MS });
		}
	}

	/**
	 * Something changed: a key's usage is to be reported (at once when the key was idle, so that an
	 * override reaches it: see setOverride; else coalesced), an idle limiter's clean-up clock starts.
	 */
	private changed(now: number): void {
		if (this.state.limiter?.scope === "key" && this.state.reportDueAt === undefined) {
			const wasIdle = (this.state.reported?.running ?? 0) + (this.state.reported?.waiting ?? 0) === 0;
			this.save({ reportDueAt: wasIdle ? now : now + REPORT_EVERY_MS });
		}
		this.idleSince = this.isIdle() ? now : undefined;
	}

	/** Nothing held, nobody waiting, nothing to report, and nothing kept for the type. */
	private isIdle(): boolean {
		if (this.state.reportDueAt !== undefined || this.state.override !== null) return false;
		return (
			this.count("SELECT count(*) AS n FROM permits") +
				this.count("SELECT count(*) AS n FROM waiters") +
				this.count("SELECT count(*) AS n FROM keys") ===
			0
		);
	}

	/** Moves the alarm earlier if this limiter has something to do sooner than it is set for. */
	private async rearm(now: number): Promise<void> {
		const at = this.nextWork(now);
		if (at === null) return;
		if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
		if (this.alarmAt !== null && this.alarmAt <= at) return;
		this.alarmAt = at;
		await this.ctx.storage.setAlarm(at);
	}

	/** When the alarm has work: a wake, a holder to check, a waiter the rate admits, a report, a clean-up. */
	private nextWork(now: number): number | null {
		const times: number[] = [];
		const wake = TimeRow.parse(this.exec("SELECT min(wake_at) AS at FROM permits WHERE notified = 0").one()).at;
		const check = TimeRow.parse(this.exec("SELECT min(check_at) AS at FROM permits WHERE notified = 1").one()).at;
		if (wake !== null) times.push(wake);
		if (check !== null) times.push(check);
		// Waiters the rate will admit (only if a slot is free: otherwise a release admits them).
		const { concurrency, rateLimit: rate } = this.limits();
		const slotFree = concurrency === null || this.count("SELECT count(*) AS n FROM permits") < concurrency;
		if (rate && slotFree && this.hasWaiters()) times.push(this.projectedStart(now, rate) - LOOKAHEAD_MS);
		if (this.state.reportDueAt !== undefined) times.push(this.state.reportDueAt);
		if (this.idleSince !== undefined) times.push(Math.max(this.idleSince + IDLE_CLEANUP_MS, this.state.next));
		return times.length === 0 ? null : Math.max(now, Math.min(...times));
	}

	// ---- Storage ----

	private save(patch: Partial<LimiterState>): void {
		this.state = { ...this.state, ...patch };
		this.ctx.storage.kv.put("state", this.state);
	}

	private exec(query: string, ...bindings: SqlStorageValue[]): SqlStorageCursor<Record<string, SqlStorageValue>> {
		if (!this.schemaReady) {
			this.ctx.storage.sql.exec(SCHEMA);
			this.schemaReady = true;
		}
		return this.ctx.storage.sql.exec(query, ...bindings);
	}

	private rows<S extends z.ZodType>(schema: S, query: string, ...bindings: SqlStorageValue[]): z.output<S>[] {
		return this.exec(query, ...bindings)
			.toArray()
			.map((row) => schema.parse(row));
	}

	private count(query: string, ...bindings: SqlStorageValue[]): number {
		return CountRow.parse(this.exec(query, ...bindings).one()).n;
	}

	private permitOf(taskId: string) {
		return this.rows(PermitRow, "SELECT task_id, attempt, state, start_at FROM permits WHERE task_id = ?", taskId)[0];
	}

	private hasSchema(): boolean {
		if (this.schemaReady) return true;
		return this.ctx.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'permits'").toArray().length > 0;
	}

	private hasWaiters(): boolean {
		return this.exec("SELECT 1 FROM waiters LIMIT 1").toArray().length > 0;
	}

	private keyLimiter(type: string, key: string): DurableObjectStub<LimiterObject> {
		return limiterStub(this.env, limiterName({ scope: "key", type, key }));
	}
}
