// One Durable Object per task: the single source of truth for its record and status. Every
// status change goes through `transition()`, which also (re)arms the object's one alarm:
//   queued/retrying → re-send the task to the queue if it shows no sign of life (re-drive),
//   running         → the attempt's lease (30 s, renewed by the consumer while the handler runs)
//                     ran out: its consumer died; retry or fail,
//   terminal        → delete the record after RESULT_TTL_SECONDS.
// The queue can lose, duplicate or delay messages; this object makes sure the task still ends.
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import {
	LEASE_ALARM_SLACK_SECONDS,
	LEASE_GRACE_SECONDS,
	LEASE_RENEW_MARGIN_SECONDS,
	LEASE_SECONDS,
	QUEUE_MAX_DELAY_SECONDS,
	readConfig,
} from "../config";
import type { InternalEnv } from "../environment";
import {
	attemptDelivery,
	callbackDueAt,
	callbackIsDue,
	callbackOnStatus,
	callbackWire,
	newCallback,
	recordAttempt,
	StoredCallback,
	webhookId,
} from "../outbound/callback";
import { DEFAULT_PRIORITY, WaitReason } from "../limit-schemas";
import { isTerminal, JsonValue, MAX_EVENT_STREAMS_PER_TASK, TaskError, type TaskMessage, TaskStatus } from "../schemas";
import { attemptHistoryWire, beginAttempt, endAttempt, failedOutcome, StoredAttempt } from "./attempt-history";
import { EventHub } from "./event-hub";
import type { AttemptLimits, LimitSpec, PermitState, WakeResult } from "./limiter-object";
import { type LimiterScope, limiterName, limiterStub } from "./limiter-stub";
import type { IndexEntry } from "./task-index";
import { shardOf } from "./task-index-stub";
import { type IndexTarget, TaskIndexWriter } from "./task-index-writer";
import { canTransition, IllegalTransitionError } from "./task-state";

/**
 * The task's state, stored as one row. Small payloads and results live inside it (one row write
 * instead of two: rows written dominate the cost per task); large ones get rows of their own, as
 * payload and result may each be 1 MiB and a row holds at most 2 MB.
 */
type TaskMeta = z.infer<typeof TaskMeta>;
const TaskMeta = z.object({
	id: z.string(),
	type: z.string(),
	status: TaskStatus,
	attempts: z.int(),
	maxAttempts: z.int(),
	timeoutSeconds: z.number(),
	createdAt: z.number(),
	updatedAt: z.number(),
	startedAt: z.number().optional(),
	finishedAt: z.number().optional(),
	runAt: z.number().optional(),
	error: TaskError.optional(),
	/** While running: when the current attempt's lease ends unless renewed. */
	leaseUntil: z.number().optional(),
	/** While running: no renewal extends the lease past this (attempt start + timeout + grace). */
	attemptDeadline: z.number().optional(),
	/** While queued or retrying: when the alarm (re)sends the task to the queue. */
	dispatchAt: z.number().optional(),
	/**
	 * While retrying: when the next attempt may start (the backoff's end). Distinct from
	 * `dispatchAt` (the later re-drive time), so an early duplicate delivery cannot start it.
	 */
	retryAt: z.number().optional(),
	/** Consecutive failed `Queue.send` calls of the alarm (drives its backoff); unset once one works. */
	sendFailures: z.int().optional(),
	/** The handler's last `ctx.progress()` value. */
	progress: JsonValue.optional(),
	/** Created for an Idempotency-Key: the create deadline it was claimed with (see CreateTaskInput). */
	createBy: z.number().optional(),
	/** Payload / result JSON when small enough to keep inline; else in the "payload" / "result" rows. */
	payloadJson: z.string().optional(),
	resultJson: z.string().optional(),
	/** Given at submit. */
	tags: z.array(z.string()).optional(),
	/** The task index shard holding this task's row (fixed at create, whatever INDEX_SHARDS becomes). */
	indexShard: z.int().optional(),
	/** A write to the task index failed: the alarm repeats it soon. */
	indexBehind: z.literal(true).optional(),
	/** The newest attempts (see attempt-history.ts). Absent on tasks recorded before it existed. */
	history: z.array(StoredAttempt).optional(),
	/** Attempts started before the last retry: this run may start `maxAttempts` more. */
	budgetFrom: z.int().optional(),
	/** When a retry last put the task back to queued. */
	retriedAt: z.number().optional(),
	/** Set when a schedule created the task: the schedule's id and the fire time (ms). */
	scheduleId: z.string().optional(),
	scheduledFor: z.number().optional(),
	/** The completion callback and its delivery (outbound/callback.ts). */
	callback: StoredCallback.optional(),
	/** Given at submit: its place among tasks waiting for the same limit (default 5), and its key. */
	priority: z.int().optional(),
	concurrencyKey: z.string().optional(),
	/**
	 * Limiters (by limiterName) holding a permit for this task's running attempt, or (queued,
	 * retrying) for its next one: released when that attempt ends or the task stops waiting.
	 */
	permits: z.array(z.string()).optional(),
	/** While waiting for a limiter: which (by name), the limit (shown as `waitingFor`), since when. */
	waitingOn: z.string().optional(),
	waitingFor: WaitReason.optional(),
	waitingSince: z.number().optional(),
});

/** JSON up to this many characters is kept inside the meta row. */
const INLINE_JSON_CHARS = 16 * 1024;

// Payloads, results and records cross RPC as JSON text: stored and served as-is, never re-parsed
// on the hot paths (and recursive JSON types are too deep for the RPC stub types).

export type CreateTaskInput = {
	type: string;
	payloadJson: string;
	maxAttempts: number;
	timeoutSeconds: number;
	delaySeconds: number;
	/**
	 * Set when the id was claimed by an Idempotency-Key (durable/idempotency-key-object.ts): no
	 * task is created after this time, and the record is kept at least until then. So a create
	 * that is retried or arrives late either finds its task or creates nothing; it can never
	 * create a second task under an id whose first task already ended and was deleted.
	 */
	createBy?: number;
	tags?: string[];
	/**
	 * Set by a caller that writes the task's first index row itself, at the same time as create
	 * (submit.ts): the creation time both use. Unset: create writes the row before answering.
	 */
	createdAt?: number;
	/** Set when a schedule submits the task: the schedule's id and the fire time (ms). */
	scheduleId?: string;
	scheduledFor?: number;
	/** Where to POST the record at each final state (checked against HTTP_ALLOWED_HOSTS at submit). */
	callback?: { url: string };
	/** Flow control: its priority where it waits for a limit (0..9, default 5), and its concurrencyKey. */
	priority?: number;
	concurrencyKey?: string;
};
/**
 * `created`: new; the caller sends the message after `enqueueDelaySeconds` (null: the alarm will).
 * `replayed`: the task already existed (a repeated create). `expired`: no task, and `createBy`
 * has passed: nothing was created.
 */
export type CreateTaskResult =
	| { kind: "created"; id: string; recordJson: string; enqueueDelaySeconds: number | null }
	| { kind: "replayed"; id: string; recordJson: string }
	| { kind: "expired" };

/**
 * `index`: with `indexedByCaller`, the task's summary for the caller to write to the task index
 * (the consumer writes a whole batch's summaries per shard: see queue/index-batch.ts). A skip
 * carries it too, so a redelivered message repairs a write a crashed consumer never made.
 */
export type StartResult =
	| {
			kind: "run";
			attempt: number;
			type: string;
			payloadJson: string;
			maxAttempts: number;
			timeoutSeconds: number;
			index?: IndexTarget;
			/** A rate limit granted a start time slightly ahead (epoch ms): run the handler then, not before. */
			startAt?: number;
	  }
	| { kind: "skip"; reason: "not-found" | "not-due" | "leased" | "waiting" | TaskStatus; index?: IndexTarget };

/**
 * `limits`: what the task's type's attempts must acquire (see limits.ts); absent or null, the
 * attempt starts without asking any limiter.
 */
export type StartOptions = IndexingOptions & { limits?: AttemptLimits | null };

/** `started`: an attempt already started (or the task ended), so it is not discarded. */
export type DiscardResult = { kind: "discarded" } | { kind: "not-found" } | { kind: "started"; status: TaskStatus };

/** `ignored`: the dead-lettered message was stale (the task ended, or a live attempt holds the lease). */
export type DeadLetterResult = { kind: "failed" } | { kind: "ignored"; reason: "not-found" | "leased" | "retried" | TaskStatus };

export type AttemptOutcome =
	| { ok: true; resultJson: string; progressJson?: string }
	/** `retryInSeconds`: null when the error is not retryable. */
	| { ok: false; error: TaskError; retryInSeconds: number | null; progressJson?: string };
/** `accepted: false`: the attempt was stale (not the current one) and nothing was recorded. */
export type FinishResult = { accepted: boolean; status: TaskStatus | null; index?: IndexTarget };

/**
 * `indexedByCaller`: the caller writes the task index row of this change (it gets the summary back
 * and reports a failed write with `indexWriteFailed()`); the object does not send it itself.
 */
export type IndexingOptions = { indexedByCaller?: boolean };

/** `too-many-streams`: MAX_EVENT_STREAMS_PER_TASK streams of this task are open already. */
export type EventsResult =
	| { kind: "stream"; stream: ReadableStream<Uint8Array> }
	| { kind: "too-many-streams"; limit: number }
	| { kind: "not-found" };

export type CancelResult = { kind: "cancelled"; recordJson: string } | { kind: "conflict"; status: TaskStatus } | { kind: "not-found" };

/** A failed task index write is repeated by the alarm after this long. */
const INDEX_RETRY_MS = 5000;
/** `ifStatus`: act only if the task's status is one of these (bulk operations with a status filter). */
export type ActionOptions = { ifStatus?: readonly TaskStatus[] };
/** `retried`: queued again; the caller sends its message (else the alarm does, after REDRIVE_AFTER_SECONDS). */
export type RetryResult =
	| { kind: "retried"; id: string; type: string; recordJson: string }
	| { kind: "conflict"; status: TaskStatus }
	| { kind: "not-found" };
export type DeleteResult = { kind: "deleted" } | { kind: "conflict"; status: TaskStatus } | { kind: "not-found" };

/**
 * A task waiting for a limiter is woken by it; as a safety net (the limiter is durable, so this
 * should never matter) its alarm re-sends it this long after it last started waiting.
 */
const WAITING_RECHECK_MS = 5 * 60_000;

/** A queue delivery may arrive this early for a delayed task (or a retry) and still start it. */
const EARLY_START_TOLERANCE_MS = 1000;
/**
 * When the alarm's `Queue.send` fails, it tries again after a backoff doubling from 2 s, capped
 * at 5 minutes: soon enough to recover quickly from a blip, slow enough not to add load to a
 * queue that refuses sends for being overloaded (429 over 5,000 msg/s).
 */
const SEND_RETRY_BASE_MS = 2000;
const SEND_RETRY_MAX_MS = 5 * 60_000;
/** A send that has not settled by then counts as failed (the alarm must re-arm, whatever send does). */
const SEND_TIMEOUT_MS = 30_000;

/** When this isolate constructed its first task object: after a restart, a new isolate's time. */
let isolateStartedAt: number | undefined;

export class TaskObject extends DurableObject<InternalEnv> {
	private meta: TaskMeta | null;
	/** Callbacks run after every change (long-polling `get`, event streams). */
	private readonly listeners = new Set<() => void>();
	private readonly eventHub = new EventHub({ maxStreams: MAX_EVENT_STREAMS_PER_TASK, keepAliveMs: 15_000 });
	/** Keeps this task's row in the task index current (never blocks or fails the task). */
	private readonly index: TaskIndexWriter;

	/** See `lostInRestart`. */
	private readonly isolateStartedAt: number;

	constructor(ctx: DurableObjectState, env: InternalEnv) {
		super(ctx, env);
		isolateStartedAt ??= Date.now();
		this.isolateStartedAt = isolateStartedAt;
		this.index = new TaskIndexWriter(
			env,
			() => this.indexTarget(),
			() => this.indexMissed(),
		);
		// Synchronous SQLite-backed KV: no blockConcurrencyWhile needed.
		const stored = ctx.storage.kv.get("meta");
		this.meta = stored === undefined ? null : TaskMeta.parse(stored);
	}

	/**
	 * Records a new task. Idempotent: the object serialises calls, so of two racing creates exactly
	 * one records the task and the other sees it (a replay). Task ids are fresh `newUniqueId()`s, so
	 * only a retry of the same request (an Idempotency-Key's claimed id) ever creates twice here.
	 */
	async create(input: CreateTaskInput): Promise<CreateTaskResult> {
		if (this.meta) return { kind: "replayed", id: this.meta.id, recordJson: this.recordJson(this.meta) };
		// The creation time the caller already wrote to the index, if it did.
		const now = input.createdAt ?? Date.now();
		if (input.createBy !== undefined && now > input.createBy) return { kind: "expired" };
		const { REDRIVE_AFTER_SECONDS } = readConfig(this.env);
		const runAt = input.delaySeconds > 0 ? now + input.delaySeconds * 1000 : undefined;
		const queueDelays = input.delaySeconds <= QUEUE_MAX_DELAY_SECONDS;
		const dispatchAt = queueDelays ? (runAt ?? now) + REDRIVE_AFTER_SECONDS * 1000 : runAt;
		const meta: TaskMeta = {
			id: this.ctx.id.toString(),
			type: input.type,
			status: "queued",
			attempts: 0,
			maxAttempts: input.maxAttempts,
			timeoutSeconds: input.timeoutSeconds,
			createdAt: now,
			updatedAt: now,
			runAt,
			dispatchAt,
			createBy: input.createBy,
			tags: input.tags,
			indexShard: shardOf(this.ctx.id.toString(), readConfig(this.env).INDEX_SHARDS),
			scheduleId: input.scheduleId,
			scheduledFor: input.scheduledFor,
			callback: input.callback && newCallback(input.callback.url),
			priority: input.priority,
			concurrencyKey: input.concurrencyKey,
			...this.storeJson("payload", input.payloadJson),
		};
		await this.save(meta, { alarmAt: coverFirstLease(runAt ?? now, dispatchAt ?? now) });
		// Listed by the time the submit is answered (unless the index failed: then the alarm repeats it).
		if (input.createdAt === undefined) await this.index.now();
		return {
			kind: "created",
			id: meta.id,
			recordJson: this.recordJson(meta, input.payloadJson),
			enqueueDelaySeconds: queueDelays ? input.delaySeconds : null,
		};
	}

	/**
	 * Starts the next attempt if the task is due and no live attempt holds the lease. With `limits`,
	 * the attempt first takes a permit from each limiter it needs (its key's, then its type's); if
	 * one must wait, the task stays queued (`waitingFor`) and its limiter wakes it later.
	 */
	async start({ indexedByCaller = false, limits }: StartOptions = {}): Promise<StartResult> {
		if (!this.meta) return { kind: "skip", reason: "not-found" };
		const index = () => (indexedByCaller ? { index: this.indexTarget() ?? undefined } : {});
		let now = Date.now();
		if (this.meta.status === "running") {
			if (now < (this.meta.leaseUntil ?? 0)) return { kind: "skip", reason: "leased", ...index() };
			await this.expireLease(now);
		}
		let meta = this.meta;
		if (meta.status !== "queued" && meta.status !== "retrying") return { kind: "skip", reason: meta.status, ...index() };
		// Judged by this object's own times: a duplicate or stale delivery cannot start the task
		// before its delay (queued) or its backoff (retrying) has passed.
		const dueAt = meta.status === "queued" ? meta.runAt : meta.retryAt;
		if (dueAt !== undefined && now < dueAt - EARLY_START_TOLERANCE_MS) return { kind: "skip", reason: "not-due" };
		let startAt = now;
		const steps = limits ? limitSteps(meta, limits) : [];
		if (steps.length > 0) {
			const admission = await this.admit(steps, limits?.version ?? 0);
			// Something else happened meanwhile (a cancel, a duplicate delivery that started it).
			if (!this.meta) return { kind: "skip", reason: "not-found" };
			if (admission.kind === "gone")
				return { kind: "skip", reason: this.meta.status === "running" ? "leased" : this.meta.status, ...index() };
			if (admission.kind === "waiting") return { kind: "skip", reason: "waiting" };
			meta = this.meta;
			now = Date.now();
			// The time its limiter granted (by the limiter's clock, so a rate limit's spacing is exact).
			startAt = admission.startAt;
		}
		const attempt = meta.attempts + 1;
		const attemptDeadline = now + (meta.timeoutSeconds + LEASE_GRACE_SECONDS) * 1000;
		const leaseUntil = Math.min(now + LEASE_SECONDS * 1000, attemptDeadline);
		await this.transition(
			"running",
			{
				attempts: attempt,
				// A rate-limited attempt starts at the time its limiter granted (≤ 1 s ahead).
				startedAt: meta.startedAt ?? startAt,
				leaseUntil,
				attemptDeadline,
				dispatchAt: undefined,
				retryAt: undefined,
				sendFailures: undefined,
				history: beginAttempt(meta.history, attempt, startAt),
			},
			{ rearm: false, indexedByCaller },
		);
		await this.coverLease(leaseUntil);
		return {
			kind: "run",
			attempt,
			type: meta.type,
			payloadJson: this.json(meta, "payload"),
			// The number of this run's last attempt (attempt numbers keep counting after a retry).
			maxAttempts: lastAttempt(meta),
			timeoutSeconds: meta.timeoutSeconds,
			...index(),
			...(startAt > now ? { startAt } : {}),
		};
	}

	/**
	 * Takes a permit for the next attempt from each limiter in `steps`, in order. `waiting`: one put
	 * the task in line (recorded: `waitingFor`; that limiter wakes it). `gone`: the task stopped
	 * waiting meanwhile (a permit just granted is given back). Permits already held are granted
	 * again (a limiter's grant is idempotent), so a woken task's start takes its reservation.
	 */
	private async admit(steps: LimitStep[], version: number): Promise<Admission> {
		let startAt = 0;
		for (const step of steps) {
			const before = this.meta;
			if (!before || (before.status !== "queued" && before.status !== "retrying")) return { kind: "gone" };
			const attempt = before.attempts + 1;
			const since = before.waitingSince ?? Date.now();
			const result = await limiterStub(this.env, step.name).acquire({
				limiter: step.scope,
				limits: step.spec,
				version,
				taskId: before.id,
				attempt,
				priority: before.priority ?? DEFAULT_PRIORITY,
				since,
			});
			// Awaited: the task may have been cancelled, or started by a duplicate delivery, meanwhile.
			const meta = this.meta;
			const still = meta !== null && (meta.status === "queued" || meta.status === "retrying") && meta.attempts + 1 === attempt;
			if (!still) {
				if (result.kind !== "stale") await this.releaseLimiters([step.name], attempt);
				return { kind: "gone" };
			}
			if (result.kind === "stale") return { kind: "gone" };
			if (result.kind === "wait") {
				const now = Date.now();
				await this.save({
					...meta,
					waitingOn: step.name,
					waitingFor: step.scope.scope === "key" ? `key-${result.reason}` : result.reason,
					waitingSince: since,
					updatedAt: now,
					// Woken by the limiter; re-sent by the alarm only as a safety net.
					dispatchAt: now + WAITING_RECHECK_MS,
					sendFailures: undefined,
				});
				this.notify();
				return { kind: "waiting" };
			}
			startAt = Math.max(startAt, result.startAt);
			const held = meta.permits?.includes(step.name) ?? false;
			// Waited here (and was admitted without a wake, e.g. on a re-send): no longer in line.
			const waitedHere = meta.waitingOn === step.name;
			if (result.holds !== held || waitedHere) {
				const others = meta.permits?.filter((name) => name !== step.name) ?? [];
				const permits = result.holds ? [...others, step.name] : others;
				const waiting = waitedHere ? { waitingOn: undefined, waitingFor: undefined } : {};
				// Written with the start's transition (or the wait) right after, not now: lost in a
				// crash before that, the permit is reclaimed by its limiter (this object then says it
				// holds none; see permitState).
				this.meta = { ...meta, ...waiting, permits: permits.length > 0 ? permits : undefined };
			}
		}
		return { kind: "admitted", startAt };
	}

	/**
	 * A limiter reserved a permit for this waiting task: it records the permit and sends itself to
	 * the queue again (its start then takes the permit). `declined`: it no longer waits for that
	 * attempt (cancelled, gone, started), so the limiter frees the permit.
	 */
	async wake(limiter: string, attempt: number): Promise<WakeResult> {
		const meta = this.meta;
		if (!meta || (meta.status !== "queued" && meta.status !== "retrying") || meta.attempts + 1 !== attempt) return { kind: "declined" };
		const now = Date.now();
		const waiting = meta.waitingOn === limiter ? { waitingOn: undefined, waitingFor: undefined } : {};
		const permits = meta.permits?.includes(limiter) ? meta.permits : [...(meta.permits ?? []), limiter];
		// Written after the send, with its re-drive time: if this object crashes before, its start
		// still gets the permit (a limiter grants a reserved permit to its task's next attempt).
		this.meta = { ...meta, ...waiting, permits, updatedAt: now };
		this.notify();
		const sent = await this.sendToQueue(meta);
		const after = this.meta;
		if (after && (after.status === "queued" || after.status === "retrying") && after.attempts + 1 === attempt) {
			// As after a re-send by the alarm; if the send failed, the alarm tries again soon.
			const dispatchAt = sent ? now + readConfig(this.env).REDRIVE_AFTER_SECONDS * 1000 : now + SEND_RETRY_BASE_MS;
			await this.save(
				{ ...after, dispatchAt, sendFailures: sent ? undefined : 1 },
				{ alarmAt: sent ? coverFirstLease(now, dispatchAt) : dispatchAt },
			);
		}
		return { kind: "accepted" };
	}

	/**
	 * A limiter asks whether this task still holds its permit for `attempt` (it never heard of its
	 * release): held while the attempt's lease is live, or while the task waits to start that
	 * attempt; a lapsed lease is expired here (which releases the permits).
	 */
	async permitState(limiter: string, attempt: number): Promise<PermitState> {
		const meta = this.meta;
		if (!meta?.permits?.includes(limiter)) return { kind: "released" };
		const now = Date.now();
		if (meta.status === "running" && meta.attempts === attempt) {
			if (now < (meta.leaseUntil ?? 0)) return { kind: "held", until: meta.leaseUntil ?? now };
			await this.expireLease(now);
			return { kind: "released" };
		}
		if ((meta.status === "queued" || meta.status === "retrying") && meta.attempts + 1 === attempt) {
			return { kind: "held", until: now + LEASE_SECONDS * 1000 };
		}
		return { kind: "released" };
	}

	/** Records attempt `attempt`'s outcome; refused unless it is the running attempt (fencing). */
	async finish(attempt: number, outcome: AttemptOutcome, { indexedByCaller = false }: IndexingOptions = {}): Promise<FinishResult> {
		const meta = await this.leaseHolder(attempt);
		if (!meta) return { accepted: false, status: this.meta?.status ?? null };
		const now = Date.now();
		const progress = outcome.progressJson === undefined ? {} : { progress: parseProgress(outcome.progressJson) };
		const done = { ...progress, finishedAt: now, leaseUntil: undefined, attemptDeadline: undefined };
		if (outcome.ok) {
			const history = endAttempt(meta.history, attempt, { outcome: "succeeded", at: now });
			await this.transition(
				"succeeded",
				{ ...done, history, error: undefined, ...this.storeJson("result", outcome.resultJson) },
				{ indexedByCaller },
			);
		} else if (outcome.retryInSeconds !== null && attempt < lastAttempt(meta)) {
			const { REDRIVE_AFTER_SECONDS } = readConfig(this.env);
			const retryAt = now + outcome.retryInSeconds * 1000;
			const dispatchAt = retryAt + REDRIVE_AFTER_SECONDS * 1000;
			const history = endAttempt(meta.history, attempt, { outcome: failedOutcome(outcome.error), at: now, error: outcome.error, retryAt });
			await this.transition(
				"retrying",
				{ ...progress, error: outcome.error, leaseUntil: undefined, attemptDeadline: undefined, retryAt, dispatchAt, history },
				{ alarmAt: coverFirstLease(retryAt, dispatchAt), indexedByCaller },
			);
		} else {
			const history = endAttempt(meta.history, attempt, { outcome: failedOutcome(outcome.error), at: now, error: outcome.error });
			await this.transition("failed", { ...done, history, error: outcome.error }, { indexedByCaller });
		}
		return { accepted: true, status: this.meta?.status ?? null, ...(indexedByCaller ? { index: this.indexTarget() ?? undefined } : {}) };
	}

	/**
	 * Records the running attempt's progress (the consumer coalesces calls). Fenced like finish. A
	 * progress write is a sign of life: it renews the lease too, in the same row write.
	 */
	async progress(attempt: number, progressJson: string): Promise<boolean> {
		const meta = await this.leaseHolder(attempt);
		if (!meta) return false;
		// Not a transition: status and alarm stay as they are (the alarm re-arms for the lease's
		// end if it wakes before it).
		const now = Date.now();
		this.meta = { ...meta, ...this.renewedLease(meta, now), progress: parseProgress(progressJson), updatedAt: now };
		this.ctx.storage.kv.put("meta", this.meta);
		this.notify();
		return true;
	}

	/**
	 * The running attempt's heartbeat: extends its lease by LEASE_SECONDS (never past the attempt's
	 * deadline). `false`: the attempt is stale, or its lease lapsed (the task is then retried): the
	 * consumer should stop it. A lease renewed less than LEASE_RENEW_MARGIN_SECONDS ago (say by a
	 * progress write) is not written again.
	 */
	async renew(attempt: number): Promise<boolean> {
		const meta = await this.leaseHolder(attempt);
		if (!meta) return false;
		const renewed = this.renewedLease(meta, Date.now());
		// Not a transition and not visible in the record; the alarm re-arms when it wakes.
		if (renewed.leaseUntil !== meta.leaseUntil) await this.save({ ...meta, ...renewed }, { rearm: false });
		return true;
	}

	/**
	 * A Server-Sent Events stream of the task: its current state first, then one event per change
	 * (the latest state only, for a reader that cannot keep up), closed after the terminal event.
	 * Events carry the record without its payload (it never changes). See event-hub.ts.
	 */
	events(): EventsResult {
		const meta = this.meta;
		if (!meta) return { kind: "not-found" };
		const stream = this.eventHub.open(this.recordJson(meta, null), isTerminal(meta.status));
		if (!stream) return { kind: "too-many-streams", limit: MAX_EVENT_STREAMS_PER_TASK };
		this.listeners.add(this.publishEvent);
		return { kind: "stream", stream };
	}

	/** Listener while streams are open: hands each change to all of them, encoded once. */
	private readonly publishEvent = (): void => {
		const meta = this.meta;
		if (this.eventHub.size === 0) this.listeners.delete(this.publishEvent);
		// Ends the streams if retention deleted the task meanwhile.
		else if (!meta) this.eventHub.closeAll();
		else this.eventHub.publish(this.recordJson(meta, null), isTerminal(meta.status));
	};

	/** The record, or null if there is none. With `waitSeconds`, first waits for a terminal status. */
	async get(waitSeconds = 0): Promise<string | null> {
		if (this.meta && waitSeconds > 0 && !isTerminal(this.meta.status)) {
			await this.nextChange(waitSeconds * 1000, () => this.meta === null || isTerminal(this.meta.status));
		}
		return this.meta ? this.recordJson(this.meta) : null;
	}

	async cancel({ ifStatus }: ActionOptions = {}): Promise<CancelResult> {
		const meta = this.meta;
		if (!meta) return { kind: "not-found" };
		if (ifStatus && !ifStatus.includes(meta.status)) return { kind: "conflict", status: meta.status };
		if (meta.status === "queued" || meta.status === "retrying") {
			await this.transition("cancelled", { finishedAt: Date.now(), dispatchAt: undefined, retryAt: undefined });
		} else if (meta.status !== "cancelled") {
			return { kind: "conflict", status: meta.status };
		}
		return { kind: "cancelled", recordJson: this.recordJson(this.meta ?? meta) };
	}

	/**
	 * A caller that writes this task's index rows (its first row at submit, see
	 * CreateTaskInput.createdAt; a consumer's batched writes, see IndexingOptions) could not: repair it.
	 */
	async indexWriteFailed(): Promise<void> {
		if (this.meta) await this.indexMissed();
	}

	/**
	 * The consumer had no free slot for this task's type (its batchConcurrency) and acked the
	 * message: the alarm re-sends the task after `seconds` (not before a retry's backoff ends). No
	 * attempt is started or counted. `false`: the task is not waiting (running, final or gone);
	 * there is nothing to re-send.
	 */
	async defer(seconds: number): Promise<boolean> {
		const meta = this.meta;
		if (!meta || (meta.status !== "queued" && meta.status !== "retrying")) return false;
		// Not a transition: only when the alarm re-sends moves (the re-drive time, now sooner or later).
		const dispatchAt = Math.max(Date.now() + seconds * 1000, meta.retryAt ?? 0);
		await this.save({ ...meta, dispatchAt });
		return true;
	}

	/**
	 * Puts a failed or cancelled task back to queued under the same id, with `maxAttempts` more
	 * attempts. Its history stays and attempt numbers keep counting up, so an attempt of the old
	 * run that reports late is still refused by the fencing in finish/progress.
	 */
	async retry({ ifStatus }: ActionOptions = {}): Promise<RetryResult> {
		const meta = this.meta;
		if (!meta) return { kind: "not-found" };
		if ((meta.status !== "failed" && meta.status !== "cancelled") || (ifStatus && !ifStatus.includes(meta.status))) {
			return { kind: "conflict", status: meta.status };
		}
		const now = Date.now();
		const dispatchAt = now + readConfig(this.env).REDRIVE_AFTER_SECONDS * 1000;
		// The alarm as for a new task: it also covers the first attempt's lease (coverFirstLease).
		await this.transition(
			"queued",
			{
				budgetFrom: meta.attempts,
				retriedAt: now,
				// The new run starts clean; what the old one did stays in the history.
				error: undefined,
				progress: undefined,
				startedAt: undefined,
				finishedAt: undefined,
				leaseUntil: undefined,
				runAt: undefined,
				retryAt: undefined,
				attemptDeadline: undefined,
				sendFailures: undefined,
				dispatchAt,
			},
			{ alarmAt: coverFirstLease(now, dispatchAt) },
		);
		return { kind: "retried", id: meta.id, type: meta.type, recordJson: this.recordJson(this.meta ?? meta) };
	}

	/** Removes a terminal task now: record, payload, result and alarm (like retention, but at once). */
	async delete({ ifStatus }: ActionOptions = {}): Promise<DeleteResult> {
		const meta = this.meta;
		if (!meta) return { kind: "not-found" };
		if (!isTerminal(meta.status) || (ifStatus && !ifStatus.includes(meta.status))) return { kind: "conflict", status: meta.status };
		// Its task index row goes too, at once (best effort: the index must never fail a delete; a row
		// left behind lists a task that answers 404 until the index's retention prunes it).
		await this.index.remove();
		await this.ctx.storage.deleteAll();
		this.meta = null;
		// Open event streams end; waiting lookups answer 404.
		this.notify();
		return { kind: "deleted" };
	}

	/**
	 * Queues gave up on a message of this task: end it, unless it already ended, its current
	 * attempt holds a live lease (then the message was a stale copy and the attempt is healthy),
	 * or the message was sent (`sentAt`, epoch ms) before a retry started the current run.
	 */
	async deadLetter(sentAt?: number): Promise<DeadLetterResult> {
		const meta = this.meta;
		if (!meta) return { kind: "ignored", reason: "not-found" };
		if (isTerminal(meta.status)) {
			// The consumer that ended the task may have died before writing its index row: write it again.
			this.index.soon();
			return { kind: "ignored", reason: meta.status };
		}
		if (sentAt !== undefined && meta.retriedAt !== undefined && sentAt < meta.retriedAt) return { kind: "ignored", reason: "retried" };
		const now = Date.now();
		if (meta.status === "running" && now < (meta.leaseUntil ?? 0)) return { kind: "ignored", reason: "leased" };
		const error = { name: "DeliveryError", message: "Queues could not deliver this task (its message was dead-lettered)." };
		await this.transition("failed", {
			finishedAt: now,
			leaseUntil: undefined,
			attemptDeadline: undefined,
			dispatchAt: undefined,
			retryAt: undefined,
			error,
			history: endAttempt(meta.history, meta.attempts, { outcome: "dead-lettered", at: now, error }),
		});
		return { kind: "failed" };
	}

	/** The task's task index row as it should be (null: no task); the index shard re-checks rows with it. */
	indexEntry(): IndexEntry | null {
		return this.indexTarget()?.entry ?? null;
	}

	/** Whether this object holds a task (Idempotency-Key records ask whether their task still exists). */
	exists(): boolean {
		return this.meta !== null;
	}

	/**
	 * Deletes a task no attempt has started, as if it had never been created: a batch submit whose
	 * request failed midway undoes the tasks it created, so nothing of a failed request runs.
	 */
	async discard(): Promise<DiscardResult> {
		const meta = this.meta;
		if (!meta) return { kind: "not-found" };
		if (meta.status !== "queued" || meta.attempts > 0) return { kind: "started", status: meta.status };
		// Its task index row goes too (best effort: the index must never fail a discard).
		await this.index.remove();
		const limiters = heldLimiters(meta);
		if (limiters.length > 0) await this.releaseLimiters(limiters, meta.attempts + 1);
		await this.ctx.storage.deleteAll();
		this.meta = null;
		this.notify();
		return { kind: "discarded" };
	}

	override async alarm(): Promise<void> {
		if (this.meta?.indexBehind) await this.repairIndex();
		if (callbackIsDue(this.meta?.callback, Date.now())) await this.deliverCallback();
		const now = Date.now();
		if (this.meta?.status === "running" && now >= (this.meta.leaseUntil ?? 0)) await this.expireLease(now);
		const meta = this.meta;
		// A callback still being delivered keeps the task past its retention.
		if (!meta || (isTerminal(meta.status) && now >= this.alarmAt(meta) && callbackDueAt(meta.callback) === undefined)) {
			// Retention is over (or there never was a task): forget everything, alarm included.
			await this.ctx.storage.deleteAll();
			this.meta = null;
			this.notify();
			return;
		}
		const waiting = meta.status === "queued" || meta.status === "retrying";
		if (waiting && (now >= (meta.dispatchAt ?? 0) || this.lostInRestart(meta, now))) {
			// Due and silent: (re)send. The alarm never throws for a failed send: the runtime retries
			// a throwing alarm only a few times and then drops it, which would leave the task with no
			// alarm at all. Instead it re-arms itself with a capped backoff and tries again.
			if (await this.sendToQueue(meta)) {
				const { REDRIVE_AFTER_SECONDS } = readConfig(this.env);
				const dispatchAt = now + REDRIVE_AFTER_SECONDS * 1000;
				await this.save({ ...meta, sendFailures: undefined, dispatchAt }, { alarmAt: coverFirstLease(now, dispatchAt) });
			} else {
				// Only the next try's time is recorded: status, error and updatedAt stay as they were.
				const sendFailures = (meta.sendFailures ?? 0) + 1;
				const backoff = Math.min(SEND_RETRY_MAX_MS, SEND_RETRY_BASE_MS * 2 ** Math.min(sendFailures - 1, 20));
				await this.save({ ...meta, sendFailures, dispatchAt: now + backoff / 2 + (Math.random() * backoff) / 2 });
			}
			return;
		}
		// Woken early (or the alarm was lost and re-armed): just re-arm.
		await this.ctx.storage.setAlarm(this.nextAlarmAt(meta));
	}

	/**
	 * One attempt at delivering the completion callback (outbound/callback.ts). The request is out
	 * while other calls reach the object: if the task was retried or deleted meanwhile, that
	 * delivery is over and its outcome is not recorded.
	 */
	private async deliverCallback(): Promise<void> {
		const meta = this.meta;
		const callback = meta?.callback;
		if (!meta || !callback || callback.state !== "pending") return;
		const id = webhookId(meta.id, callback);
		const attempt = await attemptDelivery(this.env, callback.url, id, this.recordJson(meta, undefined, { callback: false }));
		const current = this.meta;
		if (current?.callback?.state !== "pending" || current.callback.finals !== callback.finals) return;
		await this.save({ ...current, callback: recordAttempt(current.callback, id, attempt) });
		this.notify();
	}

	/**
	 * Woken by the first-lease alarm (45 s after the task was due) with no attempt started, in an
	 * isolate that started after the task's message was sent: the process restarted meanwhile. Under
	 * `wrangler dev` the queue lived in that process, so the message is gone: re-send now rather than
	 * at the re-drive time. (In production a new isolate does not lose messages; the rare false
	 * alarm costs a duplicate message, which the lease makes harmless.)
	 */
	private lostInRestart(meta: TaskMeta, now: number): boolean {
		// After a failed send the alarm keeps its own backoff schedule; a task waiting for a limiter
		// is woken by it.
		if (meta.sendFailures !== undefined || meta.waitingOn !== undefined) return false;
		// The re-drive time is set REDRIVE_AFTER_SECONDS after the task was due (or re-sent), and its
		// message was sent no later than that. Once re-sent here, the same isolate never re-sends
		// early again.
		const dueAt = (meta.dispatchAt ?? 0) - readConfig(this.env).REDRIVE_AFTER_SECONDS * 1000;
		return this.isolateStartedAt > dueAt && now >= dueAt + (LEASE_SECONDS + LEASE_ALARM_SLACK_SECONDS) * 1000;
	}

	/** Sends the task's message; false if send threw or did not settle within SEND_TIMEOUT_MS. */
	private async sendToQueue(meta: TaskMeta): Promise<boolean> {
		const message: TaskMessage = { id: meta.id, type: meta.type };
		let timer: ReturnType<typeof setTimeout> | undefined;
		const timeout = new Promise<boolean>((resolve) => {
			timer = setTimeout(() => resolve(false), SEND_TIMEOUT_MS);
		});
		try {
			return await Promise.race([this.env.TASK_QUEUE.send(message).then(() => true), timeout]);
		} catch {
			// Not logged: during an outage this repeats for every task; `sendFailures` counts it.
			return false;
		} finally {
			clearTimeout(timer);
		}
	}

	/** The running attempt's lease ran out without an outcome: retry it, or fail if none are left. */
	private async expireLease(now: number): Promise<void> {
		const meta = this.meta;
		if (!meta || meta.status !== "running") return;
		const error = {
			name: "LeaseExpiredError",
			message:
				now >= (meta.attemptDeadline ?? 0)
					? `Attempt ${meta.attempts} reported no outcome within its timeout (${meta.timeoutSeconds}s + ${LEASE_GRACE_SECONDS}s).`
					: `Attempt ${meta.attempts} stopped renewing its ${LEASE_SECONDS}s lease (its consumer died or was cut off).`,
		};
		const ended = { error, leaseUntil: undefined, attemptDeadline: undefined };
		const retry = meta.attempts < lastAttempt(meta);
		const history = endAttempt(meta.history, meta.attempts, { outcome: "lease-expired", at: now, error, retryAt: retry ? now : undefined });
		if (retry) {
			// No backoff after a lost attempt: due at once (no retryAt).
			await this.transition("retrying", { ...ended, retryAt: undefined, dispatchAt: now, history });
		} else {
			await this.transition("failed", { ...ended, finishedAt: now, history });
		}
	}

	/**
	 * The task's meta if `attempt` is the running attempt and its lease is live (fencing). A lapsed
	 * lease is expired on the spot (the task is retried at once), so a lapsed attempt's late
	 * outcome, progress or renewal is refused like a stale one's.
	 */
	private async leaseHolder(attempt: number): Promise<TaskMeta | null> {
		const meta = this.meta;
		if (!meta || meta.status !== "running" || meta.attempts !== attempt) return null;
		const now = Date.now();
		if (now < (meta.leaseUntil ?? 0)) return meta;
		await this.expireLease(now);
		return null;
	}

	/**
	 * The lease fields after a sign of life at `now`: unchanged while the lease is still young.
	 * (A record from before heartbeat leases has no deadline: its lease already runs to it.)
	 */
	private renewedLease(meta: TaskMeta, now: number): Pick<TaskMeta, "leaseUntil"> {
		const current = meta.leaseUntil ?? 0;
		if (current - now > (LEASE_SECONDS - LEASE_RENEW_MARGIN_SECONDS) * 1000) return { leaseUntil: current };
		return { leaseUntil: Math.max(current, Math.min(now + LEASE_SECONDS * 1000, meta.attemptDeadline ?? current)) };
	}

	/**
	 * Makes sure the alarm goes off at most LEASE_ALARM_SLACK_SECONDS after the lease's end. An alarm
	 * already there is left alone: queued and retrying tasks keep one armed for the end of the first
	 * lease of an attempt that starts on time (coverFirstLease), so a task that ends within its
	 * first lease costs no extra write. An earlier alarm re-arms for the lease's end when it wakes.
	 */
	private async coverLease(leaseUntil: number): Promise<void> {
		const armed = await this.ctx.storage.getAlarm();
		if (armed === null || armed > leaseUntil + LEASE_ALARM_SLACK_SECONDS * 1000) await this.ctx.storage.setAlarm(leaseUntil);
	}

	/**
	 * The only writer of `status`. Leaving a waiting or running state also ends the task's hold on
	 * limiters: starting keeps the permits (they are the attempt's) and leaves its place in line;
	 * anything else releases them, so a permit lives exactly as long as its attempt.
	 */
	private async transition(to: TaskStatus, patch: Partial<TaskMeta>, options: SaveOptions & IndexingOptions = {}): Promise<void> {
		const meta = this.meta;
		if (!meta) throw new Error("transition on a task that does not exist");
		if (!canTransition(meta.status, to)) throw new IllegalTransitionError(meta.status, to);
		const released = to === "running" ? (meta.waitingOn === undefined ? [] : [meta.waitingOn]) : heldLimiters(meta);
		const waiting = meta.waitingOn === undefined && meta.waitingSince === undefined ? {} : NOT_WAITING;
		const permits = to !== "running" && meta.permits !== undefined ? { permits: undefined } : {};
		const now = Date.now();
		const callback = meta.callback && callbackOnStatus(meta.callback, to, now);
		await this.save({ ...meta, ...patch, ...waiting, ...permits, status: to, updatedAt: now, callback }, options);
		if (!options.indexedByCaller) this.index.soon();
		this.notify();
		if (released.length > 0) await this.releaseLimiters(released, meta.status === "running" ? meta.attempts : meta.attempts + 1);
	}

	/**
	 * Gives permits (and places in line) back. Best effort: a limiter that did not hear of it asks
	 * this object later (permitState) and frees the permit then.
	 */
	private async releaseLimiters(names: string[], attempt: number): Promise<void> {
		const id = this.ctx.id.toString();
		await Promise.allSettled(names.map((name) => limiterStub(this.env, name).release(id, attempt)));
	}

	/** Writes the meta row and (unless told not to) moves the alarm to the new state's deadline. */
	private async save(meta: TaskMeta, { rearm = true, alarmAt }: SaveOptions = {}): Promise<void> {
		this.meta = meta;
		this.ctx.storage.kv.put("meta", meta);
		if (rearm) await this.ctx.storage.setAlarm(this.nextAlarmAt(meta, alarmAt));
	}

	/** The state's deadline (or `at`), or sooner when a task index write is to be repeated. */
	private nextAlarmAt(meta: TaskMeta, at = this.alarmAt(meta)): number {
		return meta.indexBehind ? Math.min(at, Date.now() + INDEX_RETRY_MS) : at;
	}

	private indexTarget(): IndexTarget | null {
		const meta = this.meta;
		if (!meta) return null;
		return {
			shard: meta.indexShard ?? shardOf(meta.id, readConfig(this.env).INDEX_SHARDS),
			entry: {
				id: meta.id,
				type: meta.type,
				status: meta.status,
				tags: meta.tags ?? [],
				attempts: meta.attempts,
				// The number of the last attempt this task may start (raised by each retry), as in the record.
				maxAttempts: lastAttempt(meta),
				createdAt: meta.createdAt,
				updatedAt: meta.updatedAt,
				startedAt: meta.startedAt,
				finishedAt: meta.finishedAt,
				errorName: meta.status === "failed" || meta.status === "retrying" ? meta.error?.name : undefined,
			},
		};
	}

	/** A task index write failed: remember it, so the alarm repeats it within INDEX_RETRY_MS. */
	private async indexMissed(): Promise<void> {
		const meta = this.meta;
		if (!meta || meta.indexBehind) {
			if (meta) await this.ctx.storage.setAlarm(this.nextAlarmAt(meta));
			return;
		}
		await this.save({ ...meta, indexBehind: true });
	}

	/** Repeats a failed task index write; on success forgets that it failed. */
	private async repairIndex(): Promise<void> {
		if (!(await this.index.now())) return;
		const meta = this.meta;
		if (meta?.indexBehind) await this.save({ ...meta, indexBehind: undefined }, { rearm: false });
	}

	/** Keeps small JSON inline (returned, to go into meta); writes large JSON to its own row. */
	private storeJson(key: "payload" | "result", json: string): Partial<TaskMeta> {
		if (json.length <= INLINE_JSON_CHARS) return key === "payload" ? { payloadJson: json } : { resultJson: json };
		this.ctx.storage.kv.put(key, json);
		return {};
	}

	private alarmAt(meta: TaskMeta): number {
		if (isTerminal(meta.status)) {
			// A callback being delivered: its next attempt (the record is kept until it ends).
			const callbackAt = callbackDueAt(meta.callback);
			if (callbackAt !== undefined) return callbackAt;
			// Kept at least until an Idempotency-Key's late create could arrive (see createBy).
			const retainedUntil = (meta.finishedAt ?? meta.updatedAt) + readConfig(this.env).RESULT_TTL_SECONDS * 1000;
			return Math.max(retainedUntil, meta.createBy ?? 0);
		}
		if (meta.status === "running") return meta.leaseUntil ?? meta.updatedAt;
		return meta.dispatchAt ?? meta.updatedAt;
	}

	private notify(): void {
		for (const listener of [...this.listeners]) listener();
	}

	/** Resolves once `done()` holds after a transition, or after `timeoutMs`. */
	private nextChange(timeoutMs: number, done: () => boolean): Promise<void> {
		return new Promise((resolve) => {
			const finish = () => {
				clearTimeout(timer);
				this.listeners.delete(check);
				resolve();
			};
			const check = () => {
				if (done()) finish();
			};
			const timer = setTimeout(finish, timeoutMs);
			this.listeners.add(check);
		});
	}

	private json(meta: TaskMeta, key: "payload" | "result"): string {
		const inline = key === "payload" ? meta.payloadJson : meta.resultJson;
		return inline ?? this.ctx.storage.kv.get<string>(key) ?? "null";
	}

	/**
	 * The TaskRecord as JSON text, splicing in the stored payload and result text unparsed.
	 * `payloadJson` null: without the payload (events). `callback: false`: without the callback's
	 * delivery state (the body a callback delivers).
	 */
	private recordJson(meta: TaskMeta, payloadJson: string | null = this.json(meta, "payload"), { callback = true } = {}): string {
		const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
		// JSON.stringify drops undefined fields, so optional ones appear only when set.
		const head = JSON.stringify({ id: meta.id, type: meta.type, status: meta.status });
		const result = meta.status === "succeeded" ? `,"result":${this.json(meta, "result")}` : "";
		const tail = JSON.stringify({
			error: meta.status === "failed" || meta.status === "retrying" ? meta.error : undefined,
			progress: meta.progress,
			attempts: meta.attempts,
			// Like ctx.maxAttempts: the last attempt this task may start, so attempts never exceed it
			// (a retry raises it by the submitted maxAttempts).
			maxAttempts: lastAttempt(meta),
			createdAt: new Date(meta.createdAt).toISOString(),
			updatedAt: new Date(meta.updatedAt).toISOString(),
			startedAt: iso(meta.startedAt),
			finishedAt: iso(meta.finishedAt),
			runAt: iso(meta.runAt),
			tags: meta.tags,
			retriedAt: iso(meta.retriedAt),
			attemptHistory: attemptHistoryWire(meta.history),
			scheduleId: meta.scheduleId,
			scheduledFor: iso(meta.scheduledFor),
			callback: callback && meta.callback ? callbackWire(meta.callback) : undefined,
			priority: meta.priority,
			concurrencyKey: meta.concurrencyKey,
			waitingFor: meta.status === "queued" || meta.status === "retrying" ? meta.waitingFor : undefined,
		});
		const payload = payloadJson === null ? "" : `,"payload":${payloadJson}`;
		return `${head.slice(0, -1)}${payload}${result},${tail.slice(1)}`;
	}
}

/** `rearm: false` leaves the alarm where it is; `alarmAt` arms it earlier than the state's deadline. */
type SaveOptions = { rearm?: boolean; alarmAt?: number };

/**
 * The alarm of a queued or retrying task due at `dueAt`: at the end of the first lease (plus slack)
 * of an attempt that starts on time, or at the re-drive time if that comes first. Woken while still
 * waiting, the alarm re-arms for the re-drive time; woken while running, for the lease's end.
 */
function coverFirstLease(dueAt: number, dispatchAt: number): number {
	return Math.min(dispatchAt, dueAt + (LEASE_SECONDS + LEASE_ALARM_SLACK_SECONDS) * 1000);
}

/** A limiter an attempt must take a permit from, with the limits it enforces. */
type LimitStep = { name: string; scope: LimiterScope; spec: LimitSpec };
type Admission = { kind: "admitted"; startAt: number } | { kind: "waiting" } | { kind: "gone" };

/** The limiters the task's next attempt needs: its key's (if it has a key and the type key limits), then its type's. */
function limitSteps(meta: TaskMeta, limits: AttemptLimits): LimitStep[] {
	const steps: LimitStep[] = [];
	if (limits.key && meta.concurrencyKey !== undefined) {
		const scope: LimiterScope = { scope: "key", type: meta.type, key: meta.concurrencyKey };
		steps.push({ name: limiterName(scope), scope, spec: limits.key });
	}
	if (limits.type) {
		const scope: LimiterScope = { scope: "type", type: meta.type };
		steps.push({ name: limiterName(scope), scope, spec: limits.type });
	}
	return steps;
}

/** Every limiter the task holds a permit or a place in line at. */
function heldLimiters(meta: TaskMeta): string[] {
	const names = [...(meta.permits ?? [])];
	if (meta.waitingOn !== undefined && !names.includes(meta.waitingOn)) names.push(meta.waitingOn);
	return names;
}

const NOT_WAITING = { waitingOn: undefined, waitingFor: undefined, waitingSince: undefined } satisfies Partial<TaskMeta>;

/** The number of the last attempt the current run may start: a retry gives `maxAttempts` more. */
function lastAttempt(meta: TaskMeta): number {
	return (meta.budgetFrom ?? 0) + meta.maxAttempts;
}

function parseProgress(json: string): JsonValue {
	return JsonValue.parse(JSON.parse(json));
}
