// One Durable Object per schedule, named by the schedule's id: its configuration, its next fire
// time, its last runs, and the one alarm that wakes it at the next fire time.
//
// Never twice: every fire submits its task through FireSubmit (the code path of POST /v1/tasks)
// with the Idempotency-Key `schedule:<id>:<fire time in ms>`, so the same fire time always reaches
// the same task object, which records the task at most once. A re-delivered alarm, a crash between
// the submit and the bookkeeping, and racing triggers all end in that one task.
// Never silently missed: an alarm that wakes late (the Worker was down, the schedule was paused)
// records the fire times it did not make as a `missed` run, and runs the latest of them if the
// schedule's catchUp is `latest`.
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { readConfig } from "../config";
import type { InternalEnv } from "../environment";
import { type FieldError, ProblemError } from "../errors";
import { type Cadence, checkCron, firesThrough, nextFireAfter, nextFires, type Window } from "../fire-times";
import { MAX_SCHEDULE_PAYLOAD_BYTES, type ScheduleRun } from "../schedule-schemas";
import { bytesOver, isTerminal, JsonValue, type SubmitTaskBody, TaskStatus } from "../schemas";
import { scheduleDirectoryStub } from "./schedule-directory-stub";
import { findTaskStub } from "./task-stub";

/** What a schedule is told to do: the validated body of POST/PUT (payload as JSON text, times in ms). */
export type ScheduleInput = {
	cron?: string;
	timezone?: string;
	every?: number;
	task: {
		type: string;
		payloadJson: string;
		maxAttempts?: number;
		tags?: string[];
		callback?: { url: string };
		priority?: number;
		concurrencyKey?: string;
	};
	startAt?: number;
	endAt?: number;
	paused?: boolean;
	overlap?: "allow" | "skip";
	catchUp?: "none" | "latest";
};
/** PATCH: fields to change; null clears startAt / endAt. */
export type SchedulePatchInput = Partial<Omit<ScheduleInput, "startAt" | "endAt">> & {
	startAt?: number | null;
	endAt?: number | null;
};

const Run = z.object({
	scheduledFor: z.number(),
	trigger: z.enum(["cadence", "catch-up", "manual"]),
	outcome: z.enum(["submitted", "skipped-overlap", "missed", "rejected"]),
	taskId: z.string().optional(),
	missedFires: z.int().optional(),
	missedUntil: z.number().optional(),
	error: z.string().optional(),
	recordedAt: z.number(),
});
type Run = z.infer<typeof Run>;

/** The whole schedule, stored as one row (one row written per fire). */
const Stored = z.object({
	id: z.string(),
	cron: z.string().optional(),
	timezone: z.string().optional(),
	every: z.int().optional(),
	/** Interval fires are anchor + k·every (startAt, else the second the cadence was set). */
	anchor: z.number().optional(),
	task: z.object({
		type: z.string(),
		payloadJson: z.string(),
		maxAttempts: z.int().optional(),
		tags: z.array(z.string()).optional(),
		callback: z.object({ url: z.string() }).optional(),
		priority: z.int().optional(),
		concurrencyKey: z.string().optional(),
	}),
	startAt: z.number().optional(),
	endAt: z.number().optional(),
	paused: z.boolean(),
	overlap: z.enum(["allow", "skip"]),
	catchUp: z.enum(["none", "latest"]),
	createdAt: z.number(),
	updatedAt: z.number(),
	/** The input of the last PUT/POST, to answer a repeated identical PUT without changing anything. */
	inputJson: z.string(),
	/** The first fire time not handled yet; null when none is left (ended). */
	nextFireAt: z.number().nullable(),
	/** The task of the latest submitted run (for overlap: skip). */
	lastTaskId: z.string().optional(),
	runs: z.array(Run),
	counts: z.object({ submitted: z.int(), skipped: z.int(), missed: z.int() }),
});
type Stored = z.infer<typeof Stored>;

/** A single schedule's answer, before the route adds each run's task status. */
export type ScheduleView = {
	/** The Schedule (configuration) as JSON text: its payload is spliced in unparsed. */
	configJson: string;
	state: "active" | "paused" | "ended";
	nextFires: string[];
	runs: Omit<ScheduleRun, "status">[];
	counts: { submitted: number; skipped: number; missed: number };
};

export type PutResult =
	| { kind: "created" | "replaced" | "unchanged"; view: ScheduleView }
	| { kind: "invalid"; errors: FieldError[] }
	| { kind: "full"; max: number };
export type PatchResult = { kind: "ok"; view: ScheduleView } | { kind: "invalid"; errors: FieldError[] } | { kind: "not-found" };
export type TriggerResult =
	| { kind: "submitted"; taskId: string; recordJson: string; replayed: boolean }
	| { kind: "rejected"; errors: FieldError[] }
	/** A task object could not be reached: nothing was recorded; retry. */
	| { kind: "unavailable" }
	| { kind: "not-found" };

/** Runs kept per schedule. */
const MAX_RUNS = 20;
/** An alarm that failed (a task object could not be reached) tries again this much later. */
const RETRY_AFTER_MS = 5_000;

/**
 * How a fire submits its task: validated like `POST /v1/tasks` against the Worker's task types
 * (errors under `task.*`), then recorded and enqueued; failures are ProblemErrors, as on that path.
 * Given by the entry (src/taskflare.ts), which knows the task types.
 */
export type FireSubmit = (
	env: InternalEnv,
	body: SubmitTaskBody,
	fire: { scheduleId: string; scheduledFor: number },
	idempotency: { key: string; fingerprint: string },
) => Promise<{ id: string; recordJson: string; replayed: boolean }>;

export class ScheduleObject extends DurableObject<InternalEnv> {
	private schedule: Stored | null;

	constructor(
		ctx: DurableObjectState,
		env: InternalEnv,
		private readonly submit: FireSubmit,
	) {
		super(ctx, env);
		const stored = ctx.storage.kv.get("schedule");
		this.schedule = stored === undefined ? null : Stored.parse(stored);
	}

	/** Creates the schedule, or replaces its configuration (runs and counts are kept). */
	async put(id: string, input: ScheduleInput): Promise<PutResult> {
		return this.serially(async () => {
			const now = Date.now();
			const existing = this.schedule;
			const inputJson = JSON.stringify(input);
			if (existing && existing.inputJson === inputJson) return { kind: "unchanged", view: this.view(existing, now) };
			const errors = checkInput(input);
			if (errors.length > 0) return { kind: "invalid", errors };
			const next: Stored = withCadence(
				{
					id,
					cron: input.cron,
					timezone: input.cron === undefined ? undefined : (input.timezone ?? "UTC"),
					every: input.every,
					task: input.task,
					startAt: input.startAt,
					endAt: input.endAt,
					paused: input.paused ?? false,
					overlap: input.overlap ?? "allow",
					catchUp: input.catchUp ?? "latest",
					createdAt: existing?.createdAt ?? now,
					updatedAt: now,
					inputJson,
					nextFireAt: null,
					lastTaskId: existing?.lastTaskId,
					runs: existing?.runs ?? [],
					counts: existing?.counts ?? { submitted: 0, skipped: 0, missed: 0 },
				},
				now,
			);
			// Listed first: a schedule that fires is always listed (a crash here leaves at most a
			// listed id whose GET is a 404, which a retried PUT or a DELETE repairs).
			const listed = await scheduleDirectoryStub(this.env).put(id, configJson(next));
			if (listed.kind === "full") return listed;
			await this.save(next);
			return { kind: existing ? "replaced" : "created", view: this.view(next, now) };
		});
	}

	/** Pause, resume, or change fields. A changed cadence or window starts afresh from now. */
	async patch(patch: SchedulePatchInput): Promise<PatchResult> {
		return this.serially(async () => {
			const current = this.schedule;
			if (!current) return { kind: "not-found" };
			const now = Date.now();
			const merged: Stored = { ...current, updatedAt: now };
			if (patch.cron !== undefined)
				Object.assign(merged, { cron: patch.cron, every: undefined, timezone: patch.timezone ?? current.timezone ?? "UTC" });
			else if (patch.every !== undefined) Object.assign(merged, { every: patch.every, cron: undefined, timezone: undefined });
			if (patch.timezone !== undefined && patch.every === undefined) merged.timezone = patch.timezone;
			if (patch.task !== undefined) merged.task = patch.task;
			if (patch.startAt !== undefined) merged.startAt = patch.startAt ?? undefined;
			if (patch.endAt !== undefined) merged.endAt = patch.endAt ?? undefined;
			if (patch.paused !== undefined) merged.paused = patch.paused;
			if (patch.overlap !== undefined) merged.overlap = patch.overlap;
			if (patch.catchUp !== undefined) merged.catchUp = patch.catchUp;
			const errors = checkInput({
				cron: merged.cron,
				// A timezone on an interval schedule is an error only if this patch sent it.
				timezone: merged.cron === undefined ? patch.timezone : merged.timezone,
				every: merged.every,
				task: merged.task,
				startAt: merged.startAt,
				endAt: merged.endAt,
			});
			if (errors.length > 0) return { kind: "invalid", errors };
			const cadenceChanged = (["cron", "timezone", "every", "startAt", "endAt"] as const).some((field) => merged[field] !== current[field]);
			// Unchanged cadence: nextFireAt stays, so resuming catches up on what the pause missed.
			const next = cadenceChanged ? withCadence(merged, now) : merged;
			// The stored input no longer describes the schedule: the next identical PUT replaces it.
			next.inputJson = "";
			const listed = await scheduleDirectoryStub(this.env).put(next.id, configJson(next));
			if (listed.kind === "full") throw new Error("the directory refused an existing schedule");
			await this.save(next);
			return { kind: "ok", view: this.view(next, now) };
		});
	}

	async get(): Promise<ScheduleView | null> {
		return this.schedule ? this.view(this.schedule, Date.now()) : null;
	}

	/** Deletes the schedule (alarm included) and its directory row; false if there was none. */
	async remove(id: string): Promise<boolean> {
		return this.serially(async () => {
			const existed = this.schedule !== null;
			await this.ctx.storage.deleteAll();
			this.schedule = null;
			// Also when the object was empty: repairs a row left by a crash during a PUT.
			const listed = await scheduleDirectoryStub(this.env).remove(id);
			return existed || listed;
		});
	}

	/**
	 * Runs the task now, outside the cadence. The fire time is now, to the second: triggers within
	 * the same second (and a cadence fire at that second) are one fire and create one task.
	 */
	async trigger(): Promise<TriggerResult> {
		return this.serially(async () => {
			if (!this.schedule) return { kind: "not-found" };
			// Changed on a copy, stored only when done (a throw leaves the stored schedule as it was).
			const schedule = structuredClone(this.schedule);
			const now = Date.now();
			const fired = await this.submitFire(schedule, Math.floor(now / 1000) * 1000, "manual", now);
			if (fired.kind === "unavailable") return fired;
			await this.save(schedule);
			if (fired.kind === "skipped") throw new Error("a manual trigger is never skipped");
			return fired;
		});
	}

	override async alarm(): Promise<void> {
		await this.serially(async () => {
			try {
				await this.fireDue(Date.now());
			} catch (error) {
				// Not rethrown: the runtime gives up on an alarm after a few failed retries, and a
				// schedule must not stop. Try again a little later (the fire may then be late).
				console.error("taskflare: a schedule's fire failed; retrying", error instanceof Error ? error.message : "");
				await this.ctx.storage.setAlarm(Date.now() + RETRY_AFTER_MS);
			}
		});
	}

	/**
	 * Handles every fire time up to `now`: the latest runs (if on time, or if catchUp is latest),
	 * the others are recorded as missed. Then moves to the next fire time.
	 */
	private async fireDue(now: number): Promise<void> {
		if (!this.schedule) {
			await this.ctx.storage.deleteAll();
			return;
		}
		// Changed on a copy, stored only when done (a throw leaves the stored schedule as it was).
		const schedule = structuredClone(this.schedule);
		if (schedule.paused || schedule.nextFireAt === null || schedule.nextFireAt > now) {
			// Woken early, or by a stale alarm: just re-arm (or disarm).
			await this.save(schedule);
			return;
		}
		const cadence = cadenceOf(schedule);
		const window = windowOf(schedule);
		const due = firesThrough(cadence, window, schedule.nextFireAt, now);
		if (due) {
			const onTime = now - due.latest <= readConfig(this.env).SCHEDULE_MISSED_AFTER_SECONDS * 1000;
			const runLatest = onTime || schedule.catchUp === "latest";
			const missed = due.count - (runLatest ? 1 : 0);
			if (missed > 0) {
				const missedUntil = runLatest ? due.beforeLatest : due.latest;
				addRun(schedule, {
					scheduledFor: schedule.nextFireAt,
					trigger: onTime ? "cadence" : "catch-up",
					outcome: "missed",
					missedFires: missed,
					missedUntil: missedUntil ?? schedule.nextFireAt,
					recordedAt: now,
				});
				schedule.counts.missed += missed;
			}
			if (runLatest) {
				const fired = await this.submitFire(schedule, due.latest, onTime ? "cadence" : "catch-up", now);
				// Nothing stored: the alarm's retry handles this fire again, with the same key.
				if (fired.kind === "unavailable") throw new Error("a task object could not be reached");
			}
		}
		schedule.nextFireAt = nextFireAfter(cadence, window, now);
		// Bookkeeping after the submit: a crash in between re-runs this fire, which finds its task.
		await this.save(schedule);
	}

	/** Submits the task for fire time `at` (idempotent per fire time) and records the run in `schedule`. */
	private async submitFire(
		schedule: Stored,
		at: number,
		trigger: Run["trigger"],
		now: number,
	): Promise<
		| { kind: "submitted"; taskId: string; recordJson: string; replayed: boolean }
		| { kind: "skipped" }
		| { kind: "rejected"; errors: FieldError[] }
		| { kind: "unavailable" }
	> {
		if (trigger !== "manual" && schedule.overlap === "skip" && schedule.lastTaskId !== undefined) {
			const status = await taskStatus(this.env, schedule.lastTaskId);
			if (status !== null && !isTerminal(status)) {
				addRun(schedule, { scheduledFor: at, trigger, outcome: "skipped-overlap", taskId: schedule.lastTaskId, recordedAt: now });
				schedule.counts.skipped++;
				return { kind: "skipped" };
			}
		}
		const rejected = (errors: FieldError[]) => {
			const error = errors.map((e) => `${e.path}: ${e.message}`).join("; ");
			addRun(schedule, { scheduledFor: at, trigger, outcome: "rejected", error, recordedAt: now });
			return { kind: "rejected" as const, errors };
		};
		try {
			// Validated again at every fire: the task type's schema may have changed since.
			const submitted = await this.submit(
				this.env,
				{
					type: schedule.task.type,
					payload: JsonValue.parse(JSON.parse(schedule.task.payloadJson)),
					maxAttempts: schedule.task.maxAttempts,
					tags: withScheduleTag(schedule.task.tags, schedule.id),
					callback: schedule.task.callback,
					priority: schedule.task.priority,
					concurrencyKey: schedule.task.concurrencyKey,
				},
				{ scheduleId: schedule.id, scheduledFor: at },
				// The fingerprint is the schedule's: any repeat of this key by the schedule is a replay
				// (even after its task changed), while a client reusing the key by hand gets a conflict.
				{ key: fireKey(schedule.id, at), fingerprint: `schedule:${schedule.id}` },
			);
			if (!schedule.runs.some((run) => run.taskId === submitted.id && run.outcome === "submitted")) {
				addRun(schedule, { scheduledFor: at, trigger, outcome: "submitted", taskId: submitted.id, recordedAt: now });
				schedule.counts.submitted++;
			}
			schedule.lastTaskId = submitted.id;
			return { kind: "submitted", taskId: submitted.id, recordJson: submitted.recordJson, replayed: submitted.replayed };
		} catch (error) {
			if (!(error instanceof ProblemError)) throw error;
			// A task object out of reach: nothing is recorded; the same key later completes the fire.
			if (error.kind === "unavailable") return { kind: "unavailable" };
			// The payload no longer validates, or a client used this fire's key by hand.
			return rejected(error.errors ?? [{ path: "task", message: error.message }]);
		}
	}

	/** Stores the schedule and points the alarm at its next fire (none while paused or ended). */
	private async save(schedule: Stored): Promise<void> {
		this.schedule = schedule;
		this.ctx.storage.kv.put("schedule", schedule);
		if (schedule.paused || schedule.nextFireAt === null) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(schedule.nextFireAt);
	}

	/**
	 * One change at a time: a fire awaits other objects (the task's), and nothing else may read or
	 * change the schedule meanwhile (the same fire would otherwise be handled twice).
	 */
	private serially<T>(work: () => Promise<T>): Promise<T> {
		const run = this.queue.then(work);
		this.queue = run.then(
			() => undefined,
			() => undefined,
		);
		return run;
	}
	private queue: Promise<void> = Promise.resolve();

	private view(schedule: Stored, now: number): ScheduleView {
		const state = schedule.nextFireAt === null ? "ended" : schedule.paused ? "paused" : "active";
		const iso = (ms: number) => new Date(ms).toISOString();
		const upcoming =
			state === "active" && schedule.nextFireAt !== null
				? [schedule.nextFireAt, ...nextFires(cadenceOf(schedule), windowOf(schedule), Math.max(now, schedule.nextFireAt), 4)]
				: [];
		return {
			configJson: configJson(schedule),
			state,
			nextFires: upcoming.slice(0, 5).map(iso),
			runs: schedule.runs.map((run) => ({
				scheduledFor: iso(run.scheduledFor),
				trigger: run.trigger,
				outcome: run.outcome,
				...(run.taskId === undefined ? {} : { taskId: run.taskId }),
				...(run.missedFires === undefined ? {} : { missedFires: run.missedFires }),
				...(run.missedUntil === undefined ? {} : { missedUntil: iso(run.missedUntil) }),
				...(run.error === undefined ? {} : { error: run.error }),
				recordedAt: iso(run.recordedAt),
			})),
			counts: { ...schedule.counts },
		};
	}
}

/** The schedule's tags on its tasks, then `schedule:<id>` (once, even if the schedule lists it). */
export function withScheduleTag(tags: readonly string[] | undefined, scheduleId: string): string[] {
	const tag = `schedule:${scheduleId}`;
	return [...(tags ?? []).filter((t) => t !== tag), tag];
}

/** The Idempotency-Key of a schedule's fire: one task per schedule and fire time. */
export const fireKey = (scheduleId: string, at: number) => `schedule:${scheduleId}:${at}`;

function addRun(schedule: Stored, run: Run): void {
	schedule.runs = [run, ...schedule.runs].slice(0, MAX_RUNS);
}

const TaskStatusOnly = z.object({ status: TaskStatus });

/** The task's status, or null when its record is gone (expired after RESULT_TTL_SECONDS). */
export async function taskStatus(env: InternalEnv, taskId: string): Promise<TaskStatus | null> {
	const json = await findTaskStub(env, taskId)?.get();
	return json ? TaskStatusOnly.parse(JSON.parse(json)).status : null;
}

function cadenceOf(schedule: Stored): Cadence {
	if (schedule.cron !== undefined) return { kind: "cron", cron: schedule.cron, timezone: schedule.timezone ?? "UTC" };
	return { kind: "every", seconds: schedule.every ?? 1, anchor: schedule.anchor ?? schedule.createdAt };
}

const windowOf = (schedule: Stored): Window => ({ startAt: schedule.startAt, endAt: schedule.endAt });

/** Sets the interval anchor and the first fire time after `now` for a new or changed cadence. */
function withCadence(schedule: Stored, now: number): Stored {
	const anchor = schedule.every === undefined ? undefined : (schedule.startAt ?? Math.floor(now / 1000) * 1000);
	const next = { ...schedule, anchor };
	next.nextFireAt = nextFireAfter(cadenceOf(next), windowOf(next), now);
	return next;
}

/** Problems with a whole schedule (its task was checked by the route), with paths like the body's. */
function checkInput(input: ScheduleInput): FieldError[] {
	const errors: FieldError[] = [];
	if ((input.cron === undefined) === (input.every === undefined)) {
		errors.push({ path: "cron", message: "Give exactly one of cron and every." });
	} else if (input.cron !== undefined) {
		errors.push(...checkCron(input.cron, input.timezone ?? "UTC"));
	} else if (input.timezone !== undefined) {
		errors.push({ path: "timezone", message: "A timezone applies only to cron." });
	}
	if (input.startAt !== undefined && input.endAt !== undefined && input.endAt <= input.startAt) {
		errors.push({ path: "endAt", message: "Must be after startAt." });
	}
	if (bytesOver(input.task.payloadJson, MAX_SCHEDULE_PAYLOAD_BYTES) !== null) {
		errors.push({ path: "task.payload", message: `A schedule's payload is limited to ${MAX_SCHEDULE_PAYLOAD_BYTES} bytes of JSON.` });
	}
	return errors;
}

/** The Schedule (configuration) as JSON text, the payload spliced in as stored. */
function configJson(schedule: Stored): string {
	const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
	const { type, payloadJson, maxAttempts, tags, callback, priority, concurrencyKey } = schedule.task;
	const taskHead = JSON.stringify({ type });
	const taskTail = JSON.stringify({ maxAttempts, tags, callback, priority, concurrencyKey });
	const task = `${taskHead.slice(0, -1)},"payload":${payloadJson}${taskTail === "{}" ? "}" : `,${taskTail.slice(1)}`}`;
	const head = JSON.stringify({ id: schedule.id, cron: schedule.cron, timezone: schedule.timezone, every: schedule.every });
	const tail = JSON.stringify({
		startAt: iso(schedule.startAt),
		endAt: iso(schedule.endAt),
		paused: schedule.paused,
		overlap: schedule.overlap,
		catchUp: schedule.catchUp,
		createdAt: iso(schedule.createdAt),
		updatedAt: iso(schedule.updatedAt),
	});
	return `${head.slice(0, -1)},"task":${task},${tail.slice(1)}`;
}
