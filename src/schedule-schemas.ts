// The wire shapes of schedules (/v1/schedules), as zod schemas named like their types. Kept apart
// from schemas.ts (the task shapes) so the schedule feature lives in a few obvious files.
import { z } from "@hono/zod-openapi";
import { ConcurrencyKey, Priority } from "./limit-schemas";
import { CallbackTarget, JsonValue, MAX_TAGS, Tag, TaskStatus } from "./schemas";

/**
 * A schedule id: 1..55 characters of letters, digits, `.`, `_`, `-`, starting with a letter or
 * digit. 55 so the tag `schedule:<id>` on its tasks fits the 64-character tag limit.
 */
export const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,54}$/;
/** Longest interval: 365 days. */
const MAX_EVERY_SECONDS = 31_536_000;
/** A schedule's payload is stored in its object and in the directory's list: 64 KiB of JSON. */
export const MAX_SCHEDULE_PAYLOAD_BYTES = 64 * 1024;

export type ScheduleTask = z.infer<typeof ScheduleTask>;
export const ScheduleTask = z
	.strictObject({
		type: z.string().min(1).openapi({ example: "echo" }),
		payload: JsonValue.optional().openapi({
			description: "Checked against the type's inputSchema when the schedule is saved.",
			example: { report: "daily" },
		}),
		maxAttempts: z.int().min(1).max(100).optional(),
		tags: z
			.array(Tag)
			.max(MAX_TAGS - 1)
			.refine((tags) => new Set(tags).size === tags.length, "Tags must be distinct.")
			.optional()
			.openapi({ description: "Up to 9 distinct tags; every task also gets the tag `schedule:<id>` (the 10th)." }),
		callback: CallbackTarget.optional(),
		priority: Priority.optional(),
		concurrencyKey: ConcurrencyKey.optional(),
	})
	.openapi("ScheduleTask", { description: "The task submitted at every fire." });

const Overlap = z.enum(["allow", "skip"]).openapi({
	description: "`skip`: a fire while the previous run's task is not final is skipped (recorded as `skipped-overlap`).",
});
const CatchUp = z.enum(["none", "latest"]).openapi({
	description:
		"Fires missed while the Worker was down or the schedule paused: `latest` runs the latest missed fire once, " +
		"`none` runs none. Either way they are recorded as a `missed` run.",
});

const cadenceFields = {
	cron: z
		.string()
		.min(1)
		.max(200)
		.optional()
		.openapi({ description: "5 fields (minute hour day month weekday), or 6 with seconds first.", example: "0 9 * * 1-5" }),
	timezone: z
		.string()
		.min(1)
		.max(64)
		.optional()
		.openapi({ description: "IANA time zone of `cron` (default UTC).", example: "Europe/Berlin" }),
	every: z
		.int()
		.min(1)
		.max(MAX_EVERY_SECONDS)
		.optional()
		.openapi({ description: "Fire every N seconds instead of `cron`.", example: 3600 }),
};

/** The body of POST /v1/schedules and PUT /v1/schedules/{id}. Exactly one of `cron` and `every`. */
export type ScheduleBody = z.infer<typeof ScheduleBody>;
export const ScheduleBody = z
	.strictObject({
		...cadenceFields,
		task: ScheduleTask,
		startAt: z.iso.datetime({ offset: true }).optional().openapi({ description: "No fire before this instant (inclusive)." }),
		endAt: z.iso.datetime({ offset: true }).optional().openapi({ description: "No fire at or after this instant." }),
		paused: z.boolean().optional().openapi({ description: "Default false." }),
		overlap: Overlap.optional().openapi({ description: "Default `allow`." }),
		catchUp: CatchUp.optional().openapi({ description: "Default `latest`." }),
	})
	.openapi("ScheduleBody");

/** PATCH: any field of the body; `null` clears `startAt`/`endAt`; `cron` replaces `every` and back. */
export type SchedulePatch = z.infer<typeof SchedulePatch>;
export const SchedulePatch = z
	.strictObject({
		...cadenceFields,
		task: ScheduleTask.optional(),
		startAt: z.iso.datetime({ offset: true }).nullable().optional(),
		endAt: z.iso.datetime({ offset: true }).nullable().optional(),
		paused: z.boolean().optional(),
		overlap: Overlap.optional(),
		catchUp: CatchUp.optional(),
	})
	.openapi("SchedulePatch");

/** A schedule's configuration, as listed and as the head of every single-schedule answer. */
export type Schedule = z.infer<typeof Schedule>;
export const Schedule = z
	.object({
		id: z.string().openapi({ example: "nightly-report" }),
		cron: z.string().optional(),
		timezone: z.string().optional(),
		every: z.int().optional(),
		task: z.object({
			type: z.string(),
			payload: JsonValue,
			maxAttempts: z.int().optional(),
			tags: z.array(z.string()).optional(),
			callback: CallbackTarget.optional(),
			priority: z.int().optional(),
			concurrencyKey: z.string().optional(),
		}),
		startAt: z.iso.datetime().optional(),
		endAt: z.iso.datetime().optional(),
		paused: z.boolean(),
		overlap: z.enum(["allow", "skip"]),
		catchUp: z.enum(["none", "latest"]),
		createdAt: z.iso.datetime(),
		updatedAt: z.iso.datetime(),
	})
	.openapi("Schedule");

export type ScheduleRun = z.infer<typeof ScheduleRun>;
export const ScheduleRun = z
	.object({
		scheduledFor: z.iso.datetime().openapi({ description: "The fire time (for `missed`: the first missed one)." }),
		trigger: z.enum(["cadence", "catch-up", "manual"]),
		outcome: z.enum(["submitted", "skipped-overlap", "missed", "rejected"]).openapi({
			description:
				"`submitted`: a task was created; `skipped-overlap`: the previous task was not final; " +
				"`missed`: fires the Worker could not make on time (see `missedFires`); `rejected`: the task no longer validates (see `error`).",
		}),
		taskId: z.string().optional(),
		status: TaskStatus.optional().openapi({ description: "The task's status now (absent once its record expired)." }),
		missedFires: z.int().optional().openapi({ description: "For `missed`: how many fire times were missed." }),
		missedUntil: z.iso.datetime().optional().openapi({ description: "For `missed`: the last missed fire time." }),
		error: z.string().optional(),
		recordedAt: z.iso.datetime(),
	})
	.openapi("ScheduleRun");

/** One schedule with what it will do and what it did. */
export type ScheduleDetail = z.infer<typeof ScheduleDetail>;
export const ScheduleDetail = Schedule.extend({
	state: z.enum(["active", "paused", "ended"]).openapi({ description: "`ended`: no fire time is left before `endAt`." }),
	nextFires: z.array(z.iso.datetime()).openapi({ description: "The next 5 fire times (none while paused or ended)." }),
	runs: z.array(ScheduleRun).openapi({ description: "The last 20 runs, newest first." }),
	counts: z.object({ submitted: z.int(), skipped: z.int(), missed: z.int() }).openapi({
		description: "Fires so far: tasks submitted, skipped by `overlap`, missed (`catchUp`).",
	}),
}).openapi("ScheduleDetail");

export type ScheduleList = z.infer<typeof ScheduleList>;
export const ScheduleList = z
	.object({
		schedules: z.array(Schedule),
		nextCursor: z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last page." }),
	})
	.openapi("ScheduleList");

export const ScheduleIdParams = z.object({
	id: z.string().openapi({ param: { name: "id", in: "path" }, example: "nightly-report" }),
});

export const ScheduleListQuery = z.object({
	limit: z.coerce
		.number()
		.int()
		.min(1)
		.max(100)
		.optional()
		.openapi({ param: { name: "limit", in: "query" }, description: "Page size (default 50)." }),
	cursor: z
		.string()
		.max(200)
		.optional()
		.openapi({ param: { name: "cursor", in: "query" }, description: "`nextCursor` of the previous page." }),
});
