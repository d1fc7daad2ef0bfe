// The wire shapes of taskflare, as zod schemas named like their types. Every HTTP body, queue
// message and Durable Object reply is described here once; routes validate with these schemas,
// and the OpenAPI document is generated from them.
import { z } from "@hono/zod-openapi";

/** Largest accepted request body, and largest stored result: 1 MiB. */
export const MAX_BODY_BYTES = 1024 * 1024;

export type TaskStatus = z.infer<typeof TaskStatus>;
export const TaskStatus = z
	.enum(["queued", "running", "retrying", "succeeded", "failed", "cancelled"])
	.openapi("TaskStatus");

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(["succeeded", "failed", "cancelled"]);
export const isTerminal = (status: TaskStatus): boolean => TERMINAL_STATUSES.has(status);

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/**
 * Any JSON value. Not walked or copied: every value this schema sees was just produced by
 * JSON.parse, so it is JSON already. (Walking would cost time on 1 MiB payloads, overflow the
 * stack on deeply nested ones, and copying would turn a "__proto__" key into a prototype.)
 */
export const JsonValue = z.custom<JsonValue>(() => true).openapi("JsonValue", {
	// Set explicitly: the OpenAPI generator cannot describe a custom schema by itself.
	type: ["object", "array", "string", "number", "boolean", "null"],
	description: "Any JSON value.",
});

/** A JSON object, passed through as it is (see JsonValue). */
export const JsonObject = z
	.custom<{ [key: string]: JsonValue }>(
		(value) => typeof value === "object" && value !== null && !Array.isArray(value),
		"Expected a JSON object",
	)
	// One meta() call serves both the OpenAPI generator (which cannot describe a custom schema by
	// itself) and z.toJSONSchema (GET /v1/task-types).
	.meta({ type: "object", description: "Any JSON object." });

export type TaskError = z.infer<typeof TaskError>;
export const TaskError = z
	.object({
		name: z.string().openapi({ example: "TimeoutError" }),
		message: z.string(),
	})
	.openapi("TaskError");

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
		maxAttempts: z.int().min(1),
		createdAt: z.iso.datetime(),
		updatedAt: z.iso.datetime(),
		startedAt: z.iso.datetime().optional(),
		finishedAt: z.iso.datetime().optional(),
		runAt: z.iso.datetime().optional().openapi({ description: "When a delayed task becomes due." }),
	})
	.openapi("TaskRecord");

/** The `data` of an `event: task` (GET /v1/tasks/{id}/events): the record without its payload. */
export type TaskEvent = z.infer<typeof TaskEvent>;
export const TaskEvent = TaskRecord.omit({ payload: true }).openapi("TaskEvent");

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
		maxAttempts: z
			.int()
			.min(1)
			.max(100)
			.optional()
			.openapi({ description: "Overrides the task type's maxAttempts." }),
	})
	.openapi("SubmitTaskBody");

export type SubmitBatchBody = z.infer<typeof SubmitBatchBody>;
export const SubmitBatchBody = z
	.strictObject({ tasks: z.array(SubmitTaskBody).min(1).max(MAX_BATCH_TASKS) })
	.openapi("SubmitBatchBody");

export type TaskRecordList = z.infer<typeof TaskRecordList>;
export const TaskRecordList = z.object({ tasks: z.array(TaskRecord) }).openapi("TaskRecordList");

export const IdempotencyHeaders = z.object({
	"idempotency-key": z
		.string()
		.regex(/^[\x21-\x7e]{1,255}$/, "Must be 1 to 255 visible ASCII characters.")
		.optional()
		.openapi({
			param: { in: "header" },
			description: "Repeating a request with the same key and body returns the first task (200, Idempotent-Replayed: true).",
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
			description: "Hold the response up to this many seconds (0 to 60, digits only) until the task is terminal.",
		}),
});

export type TaskTypeInfo = z.infer<typeof TaskTypeInfo>;
export const TaskTypeInfo = z
	.object({
		type: z.string(),
		description: z.string(),
		inputSchema: z.record(z.string(), z.unknown()).openapi({ description: "JSON Schema of the payload." }),
		maxAttempts: z.int(),
		timeoutSeconds: z.number(),
	})
	.openapi("TaskTypeInfo");

export const TaskTypeList = z.object({ types: z.array(TaskTypeInfo) }).openapi("TaskTypeList");

export const SeedSubmitBody = JsonObject.openapi("SeedSubmitBody");
export const SeedSubmitResponse = z.object({ message: z.string(), id: z.string() }).openapi("SeedSubmitResponse");
export const SeedTaskResponse = z
	.object({ id: z.string(), status: TaskStatus, result: JsonValue.nullable() })
	.openapi("SeedTaskResponse");

export const Health = z.object({ status: z.literal("ok") }).openapi("Health");

export type Problem = z.infer<typeof Problem>;
export const Problem = z
	.object({
		type: z.string(),
		title: z.string(),
		status: z.int(),
		detail: z.string().optional(),
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
