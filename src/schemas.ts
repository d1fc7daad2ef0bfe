// The wire shapes of taskflare, as zod schemas named like their types. Every HTTP body, queue
// message and Durable Object reply is described here once; routes validate with these schemas,
// and the OpenAPI document is generated from them. (The schedules' shapes are in schedule-schemas.ts.)
import { z } from "@hono/zod-openapi";
import { MAX_URL_LENGTH } from "./outbound/allow-list";
import { ConcurrencyKey, Priority, TaskLimits, WaitReason } from "./limit-schemas";

/** Largest accepted request body, and largest stored result: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The size of `text` in UTF-8 bytes when that is over `limit`, else null. A UTF-16 unit is at most
 * 3 bytes, so only a text longer than limit / 3 is encoded to count them.
 */
export function bytesOver(text: string, limit: number): number | null {
	if (text.length * 3 <= limit) return null;
	const bytes = new TextEncoder().encode(text).byteLength;
	return bytes > limit ? bytes : null;
}

export type TaskStatus = z.infer<typeof TaskStatus>;
export const TaskStatus = z.enum(["queued", "running", "retrying", "succeeded", "failed", "cancelled"]).openapi("TaskStatus");

const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(["succeeded", "failed", "cancelled"]);
export const isTerminal = (status: TaskStatus): boolean => TERMINAL_STATUSES.has(status);

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/**
 * Any JSON value. Not walked or copied: every value this schema sees was just produced by
 * JSON.parse, so it is JSON already. (Walking would cost time on 1 MiB payloads, overflow the
 * stack on deeply nested ones, and copying would turn a "__proto__" key into a prototype.) Only
 * `undefined` is refused, so that a field of this schema is required unless marked optional.
 */
export const JsonValue = z
	.custom<JsonValue>((value) => value !== undefined)
	.openapi("JsonValue", {
		// Set explicitly: the OpenAPI generator cannot describe a custom schema by itself. Objects
		// with any members (without additionalProperties, generated clients would allow only `{}`).
		// Not recursive: a self-referencing array type does not compile in generated TypeScript.
		type: ["object", "array", "string", "number", "boolean", "null"],
		additionalProperties: {},
		description: "Any JSON value.",
	});

/** A JSON object, passed through as it is (see JsonValue). */
export const JsonObject = z
	.custom<{ [key: string]: JsonValue }>(
		(value) => typeof value === "object" && value !== null && !Array.isArray(value),
		"Expected a JSON object",
	)
	// One meta() call serves both the OpenAPI generator (which cannot describe a custom schema by
	// itself) and z.toJSONSchema (GET /v1/task-types, the per-type submit bodies). Any members:
	// without additionalProperties, generated clients would allow only an empty object.
	.meta({ type: "object", additionalProperties: {}, description: "Any JSON object." });

export type TaskError = z.infer<typeof TaskError>;
export const TaskError = z
	.object({
		name: z.string().openapi({ example: "TimeoutError" }),
		message: z.string(),
	})
	.openapi("TaskError");

// Attempt history: part of the task record (src/durable/attempt-history.ts keeps it).

/** How one attempt ended (`running` while it is the live attempt). */
export type AttemptOutcomeName = z.infer<typeof AttemptOutcomeName>;
export const AttemptOutcomeName = z
	.enum(["running", "succeeded", "failed", "timed-out", "lease-expired", "dead-lettered"])
	.openapi("AttemptOutcomeName", {
		description:
			"`failed`: the handler threw (see `error`; `retryAt` tells whether another attempt followed). " +
			"`timed-out`: it ran past the type's timeoutSeconds. `lease-expired`: no outcome was reported within " +
			"the lease (its consumer died). `dead-lettered`: Queues gave up on the task's message while it ran.",
	});

/** The most attempts a record's `attemptHistory` keeps (the newest). */
export const MAX_ATTEMPT_HISTORY = 20;

export type TaskAttempt = z.infer<typeof TaskAttempt>;
export const TaskAttempt = z
	.object({
		attempt: z.int().min(1).openapi({ description: "The attempt's number; keeps counting up across manual retries." }),
		startedAt: z.iso.datetime(),
		finishedAt: z.iso.datetime().optional(),
		durationMs: z.int().min(0).optional(),
		outcome: AttemptOutcomeName,
		error: TaskError.optional().openapi({ description: "Its error (message cut to 300 characters)." }),
		retryAt: z.iso
			.datetime()
			.optional()
			.openapi({ description: "When a failed attempt was followed by another: when that one became due." }),
	})
	.openapi("TaskAttempt");

// Completion callbacks (src/outbound/callback.ts delivers them).

/** `callback` of a submit: where to POST the task's record when it reaches a final state. */
export type CallbackTarget = z.infer<typeof CallbackTarget>;
export const CallbackTarget = z
	.strictObject({
		url: z
			.string()
			.min(1)
			.max(MAX_URL_LENGTH)
			.openapi({ description: "http(s) URL whose host HTTP_ALLOWED_HOSTS allows.", example: "https://hooks.example.com/taskflare" }),
	})
	.openapi("CallbackTarget", {
		description: "On every final state the record is POSTed here, signed (Standard Webhooks), retried until a 2xx or 10 attempts.",
	});

export type CallbackDelivery = z.infer<typeof CallbackDelivery>;
export const CallbackDelivery = z
	.object({
		webhookId: z.string().openapi({ description: "The `webhook-id` sent: one per final state, the same for its every attempt." }),
		attempt: z.int().min(1),
		at: z.iso.datetime(),
		durationMs: z.int().min(0),
		statusCode: z.int().optional().openapi({ description: "The receiver's status, when it answered." }),
		error: z.string().optional().openapi({ description: "Why the attempt did not succeed, when it did not." }),
	})
	.openapi("CallbackDelivery");

export type CallbackRecord = z.infer<typeof CallbackRecord>;
export const CallbackRecord = z
	.object({
		url: z.string(),
		state: z.enum(["waiting", "pending", "delivered", "failed", "superseded"]).openapi({
			description:
				"`waiting`: the task is not final yet. `pending`: being delivered (see nextAttemptAt). `delivered`: a 2xx came back. " +
				"`failed`: every attempt failed. `superseded`: the task was retried before its delivery ended.",
		}),
		nextAttemptAt: z.iso.datetime().optional(),
		deliveries: z.array(CallbackDelivery).openapi({ description: "The newest delivery attempts (at most 20), oldest first." }),
	})
	.openapi("CallbackRecord");

export type TaskRecord = z.infer<typeof TaskRecord>;
export const TaskRecord = z
	.object({
		id: z.string().openapi({ example: "a3f1…(64 hex digits)" }),
		type: z.string().openapi({ example: "echo" }),
		status: TaskStatus,
		payload: JsonValue,
		result: JsonValue.optional().openapi({ description: "Only when status is succeeded." }),
		error: TaskError.optional().openapi({ description: "The last attempt's error, when failed or retrying." }),
		progress: z
			.union([z.number(), z.record(z.string(), JsonValue)])
			.optional()
			.openapi({ description: "The handler's last ctx.progress() value: 0..100 or a small object." }),
		attempts: z.int().min(0).openapi({ description: "Attempts started so far." }),
		maxAttempts: z
			.int()
			.min(1)
			.openapi({ description: "The number of the last attempt the task may start; each retry raises it by the submitted maxAttempts." }),
		createdAt: z.iso.datetime(),
		updatedAt: z.iso.datetime(),
		startedAt: z.iso.datetime().optional(),
		finishedAt: z.iso.datetime().optional(),
		runAt: z.iso.datetime().optional().openapi({ description: "When a delayed task becomes due." }),
		tags: z.array(z.string()).optional().openapi({ description: "The tags given at submit, when there were any." }),
		retriedAt: z.iso.datetime().optional().openapi({ description: "When the task was last put back to queued by a retry." }),
		attemptHistory: z.array(TaskAttempt).openapi({ description: "The newest attempts (at most 20), oldest first." }),
		scheduleId: z.string().optional().openapi({ description: "The schedule that created this task." }),
		scheduledFor: z.iso.datetime().optional().openapi({ description: "The schedule's fire time this task is for." }),
		callback: CallbackRecord.optional().openapi({ description: "The completion callback and its delivery attempts, when one was given." }),
		priority: z.int().optional().openapi({ description: "The priority given at submit (absent: the default, 5)." }),
		concurrencyKey: z.string().optional().openapi({ description: "The concurrencyKey given at submit." }),
		waitingFor: WaitReason.optional().openapi({
			description: "While queued or retrying: the limit the task waits for (it is woken when a permit frees).",
		}),
	})
	.openapi("TaskRecord");

/** The `data` of an `event: task` (GET /v1/tasks/{id}/events): the record without its payload. */
export type TaskEvent = z.infer<typeof TaskEvent>;
export const TaskEvent = TaskRecord.omit({ payload: true }).openapi("TaskEvent");

/** Most tags on one task. */
export const MAX_TAGS = 10;
const TAG_PATTERN = /^[^\p{C}\p{Z}]{1,64}$/u;
/** 1..64 visible characters (no spaces or control characters), e.g. `customer:42`. */
export const Tag = z
	.string()
	.regex(TAG_PATTERN, "Must be 1 to 64 visible characters (no spaces or control characters).")
	// The pattern's source, set explicitly: the generator would append the regex flags ("…$/u").
	.openapi({ pattern: TAG_PATTERN.source, example: "customer:42" });
const TaskTags = z
	.array(Tag)
	.max(MAX_TAGS)
	.refine((tags) => new Set(tags).size === tags.length, "Tags must be distinct.")
	.openapi({ description: `Up to ${MAX_TAGS} distinct tags to find the task by (GET /v1/tasks?tag=…).`, example: ["customer:42"] });

/** Longest delay a submit may ask for (365 days); beyond 12 h the task's alarm keeps the time. */
export const MAX_DELAY_SECONDS = 31_536_000;
/** Most tasks in one batch submit. */
export const MAX_BATCH_TASKS = 100;
/** Event streams (GET /v1/tasks/{id}/events) open at once per task; 429 beyond. */
export const MAX_EVENT_STREAMS_PER_TASK = 100;
/** Largest batch submit body: 10 MiB (each payload is still at most 1 MiB). */
export const MAX_BATCH_BODY_BYTES = 10 * MAX_BODY_BYTES;

export type SubmitTaskBody = z.infer<typeof SubmitTaskBody>;
export const SubmitTaskBody = z
	.strictObject({
		type: z.string().min(1).openapi({ example: "echo" }),
		payload: JsonValue.optional().openapi({
			description: "Input for the task type, checked against its inputSchema. Defaults to {}.",
			example: { hello: "world" },
		}),
		delaySeconds: z.int().min(0).max(MAX_DELAY_SECONDS).optional(),
		maxAttempts: z.int().min(1).max(100).optional().openapi({ description: "Overrides the task type's maxAttempts." }),
		tags: TaskTags.optional(),
		callback: CallbackTarget.optional(),
		priority: Priority.optional(),
		concurrencyKey: ConcurrencyKey.optional(),
	})
	.openapi("SubmitTaskBody");

export type SubmitBatchBody = z.infer<typeof SubmitBatchBody>;
export const SubmitBatchBody = z.strictObject({ tasks: z.array(SubmitTaskBody).min(1).max(MAX_BATCH_TASKS) }).openapi("SubmitBatchBody");

/**
 * The batch body as the route checks it: items are checked one by one afterwards (prepareTasks),
 * so one item's envelope error cannot hide another item's unknown type. Documented as
 * SubmitBatchBody.
 */
export const SubmitBatchEnvelope = z.strictObject({ tasks: z.array(z.unknown()).min(1).max(MAX_BATCH_TASKS) });

export type TaskRecordList = z.infer<typeof TaskRecordList>;
export const TaskRecordList = z.object({ tasks: z.array(TaskRecord) }).openapi("TaskRecordList");

export const IdempotencyHeaders = z.object({
	"idempotency-key": z
		.string()
		.regex(/^[\x21-\x7e]{1,255}$/, "Must be 1 to 255 visible ASCII characters.")
		.optional()
		.openapi({
			param: { in: "header" },
			description:
				"Repeating a request with the same key and body answers what the first one made (its task(s), or its " +
				"bulk operation) with 200 and Idempotent-Replayed: true, and makes nothing new.",
			example: "order-1234-confirmation",
		}),
});

export const TaskIdParams = z.object({
	id: z.string().openapi({ param: { name: "id", in: "path" } }),
});

export const WaitQuery = z.object({
	// Digits only: a coerced number would also take "0x10", "1e1" and "" (as 0).
	wait: z
		.string()
		.regex(/^[0-9]{1,9}$/, "Must be a whole number of seconds, in digits (0 to 60).")
		.transform(Number)
		.pipe(z.int().min(0).max(60))
		.optional()
		.openapi({
			param: { name: "wait", in: "query" },
			// What the digits stand for, so generated clients take a number.
			type: "integer",
			minimum: 0,
			maximum: 60,
			description: "Hold the response up to this many seconds (0 to 60, digits only) until the task is terminal.",
		}),
});

/** What the task index knows of a task: the record without payload, result or progress. */
export type TaskSummary = z.infer<typeof TaskSummary>;
export const TaskSummary = z
	.object({
		id: z.string(),
		type: z.string(),
		status: TaskStatus,
		tags: z.array(z.string()),
		attempts: z.int().min(0),
		maxAttempts: z.int().min(1),
		createdAt: z.iso.datetime(),
		updatedAt: z.iso.datetime(),
		startedAt: z.iso.datetime().optional(),
		finishedAt: z.iso.datetime().optional(),
		errorName: z.string().optional().openapi({ description: "The last error's name, when failed or retrying." }),
	})
	.openapi("TaskSummary");

/** Most items on one page of GET /v1/tasks. */
const MAX_PAGE_SIZE = 200;

/** `status` one or several: repeated (`?status=a&status=b`), comma-separated (`a,b`) or a JSON array. */
const StatusFilter = z.preprocess(splitStatuses, z.array(TaskStatus).min(1).max(TaskStatus.options.length));

function splitStatuses(value: unknown): unknown {
	if (value === undefined) return value;
	const items: unknown[] = Array.isArray(value) ? value : [value];
	return items.flatMap((item): unknown[] => (typeof item === "string" ? item.split(",") : [item]));
}

/** Which tasks: every given condition must hold. `createdAfter` is inclusive, `createdBefore` exclusive. */
export type TaskFilter = z.infer<typeof TaskFilter>;
export const TaskFilter = z.object({
	status: StatusFilter.optional().openapi({
		param: { name: "status", in: "query", style: "form", explode: true },
		type: "array",
		items: { type: "string", enum: [...TaskStatus.options] },
		description: "One or several statuses: `?status=failed&status=cancelled` or `?status=failed,cancelled`.",
	}),
	type: z
		.string()
		.min(1)
		.max(200)
		.optional()
		.openapi({ param: { name: "type", in: "query" }, example: "echo" }),
	tag: Tag.optional().openapi({ param: { name: "tag", in: "query" }, example: "customer:42" }),
	createdAfter: z.iso
		.datetime({ offset: true })
		.optional()
		.openapi({ param: { name: "createdAfter", in: "query" }, description: "Only tasks created at or after this time (ISO 8601)." }),
	createdBefore: z.iso
		.datetime({ offset: true })
		.optional()
		.openapi({ param: { name: "createdBefore", in: "query" }, description: "Only tasks created before this time (ISO 8601)." }),
});

/** An opaque position in the list: base64url of `{createdAt ms, id}` of the last task served. */
export type TaskCursor = z.infer<typeof TaskCursor>;
export const TaskCursor = z.object({ at: z.int().min(0), id: z.string().regex(/^[0-9a-f]{64}$/) });

export function encodeCursor(cursor: TaskCursor): string {
	return btoa(JSON.stringify(cursor)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function decodeCursor(text: string): TaskCursor | null {
	try {
		const parsed = TaskCursor.safeParse(JSON.parse(atob(text.replaceAll("-", "+").replaceAll("_", "/"))));
		return parsed.success ? parsed.data : null;
	} catch {
		return null;
	}
}

export type TaskListQuery = z.infer<typeof TaskListQuery>;
export const TaskListQuery = TaskFilter.extend({
	limit: z.coerce
		.number()
		.int()
		.min(1)
		.max(MAX_PAGE_SIZE)
		.default(50)
		.openapi({ param: { name: "limit", in: "query" }, description: `Tasks per page, 1..${MAX_PAGE_SIZE} (default 50).` }),
	cursor: z
		.string()
		.max(512)
		.refine((text) => decodeCursor(text) !== null, "Not a cursor returned by this API.")
		.optional()
		.openapi({ param: { name: "cursor", in: "query" }, description: "The previous page's nextCursor." }),
});

export type TaskPage = z.infer<typeof TaskPage>;
export const TaskPage = z
	.object({
		tasks: z.array(TaskSummary).openapi({ description: "Newest first." }),
		nextCursor: z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null after the last." }),
	})
	.openapi("TaskPage");

export type StatusCounts = z.infer<typeof StatusCounts>;
const Count = z.int().min(0);
export const StatusCounts = z
	.object({ queued: Count, running: Count, retrying: Count, succeeded: Count, failed: Count, cancelled: Count })
	.openapi("StatusCounts");

export type QueueBacklog = z.infer<typeof QueueBacklog>;
export const QueueBacklog = z
	.object({
		backlogCount: z.int().min(0),
		backlogBytes: z.int().min(0),
		oldestMessageAgeSeconds: z.number().min(0).nullable().openapi({ description: "null when the queue is empty." }),
	})
	.openapi("QueueBacklog");

const MinuteStats = z.object({
	minute: z.iso.datetime().openapi({ description: "Start of the minute." }),
	created: z.int().min(0),
	succeeded: z.int().min(0),
	failed: z.int().min(0),
});

export type TaskStats = z.infer<typeof TaskStats>;
export const TaskStats = z
	.object({
		generatedAt: z.iso.datetime(),
		retentionSeconds: z.int().openapi({ description: "Terminal tasks are counted while their record is kept." }),
		byStatus: StatusCounts,
		byType: z.record(z.string(), StatusCounts),
		lastHour: z.array(MinuteStats).openapi({ description: "60 minutes, oldest first; the last is the current minute." }),
		queues: z
			.object({ tasks: QueueBacklog.nullable(), deadLetter: QueueBacklog.nullable() })
			.openapi({ description: "From Queue.metrics(); null when a queue's metrics could not be read." }),
	})
	.openapi("TaskStats");

export type TaskTypeInfo = z.infer<typeof TaskTypeInfo>;
export const TaskTypeInfo = z
	.object({
		type: z.string(),
		description: z.string(),
		inputSchema: z.record(z.string(), z.unknown()).openapi({ description: "JSON Schema of the payload." }),
		maxAttempts: z.int(),
		timeoutSeconds: z.number(),
		limits: TaskLimits.openapi({ description: "Its flow-control limits as declared in code (with overrides: GET /v1/limits)." }),
	})
	.openapi("TaskTypeInfo");

export const TaskTypeList = z.object({ types: z.array(TaskTypeInfo) }).openapi("TaskTypeList");

export const SeedSubmitBody = JsonObject.openapi("SeedSubmitBody");
export const SeedSubmitResponse = z.object({ message: z.string(), id: z.string() }).openapi("SeedSubmitResponse");
export const SeedTaskResponse = z.object({ id: z.string(), status: TaskStatus, result: JsonValue.nullable() }).openapi("SeedTaskResponse");

export const Health = z.object({ status: z.literal("ok") }).openapi("Health");

export type Problem = z.infer<typeof Problem>;
export const Problem = z
	.object({
		type: z.string(),
		title: z.string(),
		status: z.int(),
		detail: z.string(),
		errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
	})
	.openapi("Problem", { description: "An RFC 9457 problem document (application/problem+json)." });

/** The body of a queue message: the task id (and type); the payload lives in the task's Durable Object. */
export type TaskMessage = z.infer<typeof TaskMessage>;
export const TaskMessage = z.object({
	id: z.string(),
	/** The task's type, so the consumer can apply the type's batchConcurrency before starting it. */
	type: z.string().optional(),
});

// ---- Bulk operations: POST /v1/tasks/bulk, GET /v1/operations/{id} ----

/** What a bulk operation does to each task it reaches. */
export type BulkAction = z.infer<typeof BulkAction>;
export const BulkAction = z.enum(["retry", "cancel", "delete"]).openapi("BulkAction");

/** Most ids one bulk request may name (a filter has no limit). */
export const MAX_BULK_IDS = 1000;

const TaskId = z.string().regex(/^[0-9a-f]{64}$/, "Must be a task id (64 hex digits).");

/** The statuses each action applies to; a filter is narrowed to them (see OperationObject). */
export const BULK_ACTION_STATUSES: Readonly<Record<BulkAction, readonly TaskStatus[]>> = {
	retry: ["failed", "cancelled"],
	cancel: ["queued", "retrying"],
	delete: ["succeeded", "failed", "cancelled"],
};

export type BulkActionBody = z.infer<typeof BulkActionBody>;
export const BulkActionBody = z
	.strictObject({
		action: BulkAction,
		ids: z
			.array(TaskId)
			.min(1)
			.max(MAX_BULK_IDS)
			.optional()
			.openapi({ description: `Up to ${MAX_BULK_IDS} task ids (duplicates count once).` }),
		// Strict: a misspelt condition must be a 422, not silently dropped (which would widen the filter).
		filter: z
			.strictObject(TaskFilter.shape)
			.optional()
			.openapi({
				description:
					"Tasks as GET /v1/tasks finds them, without limit or cursor, and at least one condition. Only tasks " +
					"created before the operation, in a status the action applies to, are acted on.",
			}),
	})
	.superRefine(
		(body, ctx) => {
			if (body.ids === undefined && body.filter === undefined) {
				ctx.addIssue({ code: "custom", path: ["ids"], message: "Name the tasks with ids or filter." });
			}
			if (body.ids !== undefined && body.filter !== undefined) {
				ctx.addIssue({ code: "custom", path: ["filter"], message: "Give ids or filter, not both." });
			}
			const filter = body.filter;
			if (filter === undefined) return;
			if (Object.values(filter).every((condition) => condition === undefined)) {
				ctx.addIssue({ code: "custom", path: ["filter"], message: "An empty filter would match every task: give at least one condition." });
			}
			const applies = BULK_ACTION_STATUSES[body.action];
			if (filter.status && !filter.status.some((status) => applies.includes(status))) {
				ctx.addIssue({
					code: "custom",
					path: ["filter", "status"],
					message: `${body.action} applies only to ${applies.join(", ")} tasks.`,
				});
			}
			// Only on an otherwise valid body: an unknown filter field is reported by itself, not also
			// as an "empty filter".
		},
		{ when: (payload) => payload.issues.length === 0 },
	)
	.openapi("BulkActionBody");

export type OperationState = z.infer<typeof OperationState>;
export const OperationState = z.enum(["running", "succeeded", "failed", "cancelled"]).openapi("OperationState", {
	description:
		"`succeeded`: every matched task was done or skipped. `failed`: it ended, but some tasks failed " +
		"(see `failed`, `errors`) or it stopped early (see `error`). `cancelled`: stopped by " +
		"POST /v1/operations/{id}/cancel; the counts say what it did before it stopped, and the tasks it " +
		"had not reached were left alone.",
});

export type OperationRecord = z.infer<typeof OperationRecord>;
export const OperationRecord = z
	.object({
		id: z.string(),
		action: BulkAction,
		state: OperationState,
		ids: z.int().optional().openapi({ description: "How many distinct ids the request named." }),
		filter: TaskFilter.optional().openapi({
			description:
				"The filter as applied: `status` narrowed to the statuses the action applies to, `createdBefore` " +
				"no later than the operation's creation (tasks created afterwards are left alone).",
		}),
		matched: z.int().min(0).openapi({
			description: "Tasks the operation has reached so far (ids: all of them, from the start; a filter: grows page by page).",
		}),
		done: z.int().min(0).openapi({ description: "Tasks the action was applied to." }),
		skipped: z.int().min(0).openapi({ description: "Tasks left alone: not found, or a status the action does not apply to." }),
		failed: z.int().min(0).openapi({ description: "Tasks whose Durable Object could not be reached (after a second try)." }),
		skippedByStatus: z
			.record(z.string(), z.int())
			.openapi({ description: 'Skipped tasks by the status they had, or "not-found".', example: { running: 2, "not-found": 1 } }),
		errors: z.array(z.object({ id: z.string(), message: z.string() })).openapi({ description: "The first 20 failed tasks." }),
		error: z.string().optional().openapi({ description: "Why the operation stopped early." }),
		createdAt: z.iso.datetime(),
		updatedAt: z.iso.datetime(),
		finishedAt: z.iso.datetime().optional().openapi({ description: "When it ended (for `cancelled`: when it was cancelled)." }),
	})
	.openapi("OperationRecord");

export const OperationIdParams = z.object({
	id: z.string().openapi({ param: { name: "id", in: "path" } }),
});
