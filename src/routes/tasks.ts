// /v1/tasks: submit (one, or a batch), look up (optionally long-polling), watch, cancel, retry, delete.
import { createRoute, z } from "@hono/zod-openapi";
import { ProblemError, requestValidationProblem } from "../errors";
import { getTaskStub, taskNotFound } from "../durable/task-stub";
import { jsonBody } from "../middleware/json-body";
import { createRouter } from "../router";
import {
	IdempotencyHeaders,
	MAX_BATCH_BODY_BYTES,
	MAX_EVENT_STREAMS_PER_TASK,
	SubmitBatchBody,
	SubmitTaskBody,
	TaskIdParams,
	TaskRecord,
	TaskRecordList,
	WaitQuery,
} from "../schemas";
import { requestFingerprint, submitMeaning } from "../idempotency";
import { batchProblem, prepareTask, prepareTasks, submitTask, submitTasks } from "../submit";
import { sendOrLeaveToAlarm } from "../task-queue";
import { bearerSecurity, jsonText, locationHeader, problemResponses, replayedHeader } from "./responses";

/** When a client refused for too many event streams may try again. */
const EVENT_STREAM_RETRY_AFTER_SECONDS = 30;

const recordContent = { "application/json": { schema: TaskRecord } };

export const tasks = createRouter()
	.openapi(
		createRoute({
			method: "post",
			path: "/v1/tasks",
			summary: "Submit a task",
			security: bearerSecurity,
			middleware: [jsonBody()],
			request: {
				headers: IdempotencyHeaders,
				body: { required: true, content: { "application/json": { schema: SubmitTaskBody } } },
			},
			responses: {
				202: {
					description: "Recorded and enqueued. `Location` points at the task.",
					headers: locationHeader("/v1/tasks/{id}"),
					content: recordContent,
				},
				200: {
					description: "A repeat of an earlier request with the same Idempotency-Key and body: the original task.",
					headers: { ...locationHeader("/v1/tasks/{id}"), ...replayedHeader },
					content: recordContent,
				},
				...problemResponses(
					"bad-request",
					"unauthorized",
					"payload-too-large",
					"unsupported-media-type",
					"validation-failed",
					"unavailable",
				),
			},
		}),
		async (c) => {
			const body = c.req.valid("json");
			const key = c.req.valid("header")["idempotency-key"];
			const input = prepareTask(c.var.taskTypes, c.env, body);
			const idempotency =
				key === undefined
					? undefined
					: { key, fingerprint: await requestFingerprint("POST /v1/tasks", submitMeaning(input, body.payload)) };
			const { id, recordJson, replayed } = await submitTask(c.env, input, idempotency);
			const location = { Location: `/v1/tasks/${id}` };
			return replayed
				? jsonText<TaskRecord, 200>(recordJson, 200, { ...location, "Idempotent-Replayed": "true" })
				: jsonText<TaskRecord, 202>(recordJson, 202, location);
		},
	)
	.openapi(
		createRoute({
			method: "post",
			path: "/v1/tasks/batch",
			summary: "Submit up to 100 tasks at once",
			description:
				"All or nothing: if any item is invalid, nothing is created (422, error paths like tasks.3.payload.ms). " +
				"If a task cannot be recorded (503), the tasks already created are discarded, or, with an " +
				"Idempotency-Key, kept so that a retry with the same key creates only the missing ones. " +
				"An Idempotency-Key covers the whole batch.",
			security: bearerSecurity,
			middleware: [jsonBody({ limit: MAX_BATCH_BODY_BYTES })],
			request: {
				headers: IdempotencyHeaders,
				body: { required: true, content: { "application/json": { schema: SubmitBatchBody } } },
			},
			responses: {
				202: {
					description: "Every task recorded and enqueued, in request order.",
					content: { "application/json": { schema: TaskRecordList } },
				},
				200: {
					description: "A repeat of an earlier batch with the same Idempotency-Key and body: its tasks, in request order.",
					headers: replayedHeader,
					content: { "application/json": { schema: TaskRecordList } },
				},
				...problemResponses(
					"bad-request",
					"unauthorized",
					"payload-too-large",
					"unsupported-media-type",
					"validation-failed",
					"unavailable",
				),
			},
		}),
		async (c) => {
			const bodies = c.req.valid("json").tasks;
			const key = c.req.valid("header")["idempotency-key"];
			const inputs = prepareTasks(c.var.taskTypes, c.env, bodies, ["tasks"]);
			const meaning = () => inputs.map((input, i) => submitMeaning(input, bodies[i]?.payload));
			const idempotency = key === undefined ? undefined : { key, fingerprint: await requestFingerprint("POST /v1/tasks/batch", meaning()) };
			const { records, replayed } = await submitTasks(c.env, inputs, idempotency);
			const json = `{"tasks":[${records.join(",")}]}`;
			return replayed
				? jsonText<TaskRecordList, 200>(json, 200, { "Idempotent-Replayed": "true" })
				: jsonText<TaskRecordList, 202>(json, 202);
		},
		// Instead of the first failing item's schema errors: every item's problems at once. (The
		// validator passes the body it checked as `data`; the hook's declared type omits it.)
		(result, c) => {
			if (result.success) return;
			throw result.target === "json" && "data" in result
				? batchProblem(c.var.taskTypes, c.env, result.data)
				: requestValidationProblem(result.error, result.target);
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/v1/tasks/{id}",
			summary: "Get a task; with ?wait=N, wait up to N seconds for it to finish",
			security: bearerSecurity,
			request: { params: TaskIdParams, query: WaitQuery },
			responses: {
				200: { description: "The task's current record.", content: recordContent },
				...problemResponses("unauthorized", "not-found", "validation-failed"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const recordJson = await getTaskStub(c.env, id).get(c.req.valid("query").wait ?? 0);
			if (recordJson === null) throw taskNotFound(id);
			return jsonText<TaskRecord, 200>(recordJson, 200);
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/v1/tasks/{id}/events",
			summary: "Watch a task: Server-Sent Events, one per change, ending after the terminal one",
			description:
				"Each event is `event: task` with the record *without its payload* as `data` (a TaskEvent; " +
				"GET the task for the payload), starting with the current state. A reader that falls behind " +
				`gets the latest state when it catches up, not every change. At most ${MAX_EVENT_STREAMS_PER_TASK} ` +
				"streams per task are open at once (429 beyond). `: keep-alive` comments are sent every 15 s. Try `curl -N`.",
			security: bearerSecurity,
			request: { params: TaskIdParams },
			responses: {
				200: {
					description: "An event stream; each event's data is a TaskEvent.",
					content: { "text/event-stream": { schema: z.string().openapi({ description: "event: task\ndata: <TaskEvent JSON>" }) } },
				},
				...problemResponses("unauthorized", "not-found", "too-many-requests"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const result = await getTaskStub(c.env, id).events();
			if (result.kind === "not-found") throw taskNotFound(id);
			if (result.kind === "too-many-streams") {
				throw new ProblemError("too-many-requests", `This task already has ${result.limit} open event streams.`, {
					headers: { "Retry-After": String(EVENT_STREAM_RETRY_AFTER_SECONDS) },
				});
			}
			return c.body(result.stream, 200, {
				"Content-Type": "text/event-stream; charset=utf-8",
				"Cache-Control": "no-store",
				"X-Accel-Buffering": "no",
			});
		},
	)
	.openapi(
		createRoute({
			method: "post",
			path: "/v1/tasks/{id}/cancel",
			summary: "Cancel a queued or retrying task",
			description: "Cancelling a cancelled task answers 200 again; a running or finished task answers 409.",
			security: bearerSecurity,
			request: { params: TaskIdParams },
			responses: {
				200: { description: "The cancelled task.", content: recordContent },
				...problemResponses("unauthorized", "not-found", "conflict"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const result = await getTaskStub(c.env, id).cancel();
			if (result.kind === "not-found") throw taskNotFound(id);
			if (result.kind === "conflict") {
				throw new ProblemError("conflict", `The task is ${result.status}; only queued or retrying tasks can be cancelled.`);
			}
			return jsonText<TaskRecord, 200>(result.recordJson, 200);
		},
	)
	.openapi(
		createRoute({
			method: "post",
			path: "/v1/tasks/{id}/retry",
			summary: "Retry a failed or cancelled task",
			description:
				"Puts the task back to queued under the same id with a fresh budget of maxAttempts attempts. " +
				"Its attemptHistory stays and attempt numbers keep counting up. Any other status answers 409.",
			security: bearerSecurity,
			request: { params: TaskIdParams },
			responses: {
				202: {
					description: "Queued again.",
					headers: locationHeader("/v1/tasks/{id}"),
					content: recordContent,
				},
				...problemResponses("unauthorized", "not-found", "conflict"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const result = await getTaskStub(c.env, id).retry();
			if (result.kind === "not-found") throw taskNotFound(id);
			if (result.kind === "conflict") {
				throw new ProblemError("conflict", `The task is ${result.status}; only failed or cancelled tasks can be retried.`);
			}
			await sendOrLeaveToAlarm(c.env, [{ body: { id: result.id, type: result.type } }]);
			return jsonText<TaskRecord, 202>(result.recordJson, 202, { Location: `/v1/tasks/${result.id}` });
		},
	)
	.openapi(
		createRoute({
			method: "delete",
			path: "/v1/tasks/{id}",
			summary: "Delete a finished task now",
			description:
				"Removes a succeeded, failed or cancelled task's record, payload and result at once (instead of after " +
				"RESULT_TTL_SECONDS). Afterwards the task is 404. A task that is not final answers 409.",
			security: bearerSecurity,
			request: { params: TaskIdParams },
			responses: {
				204: { description: "Deleted." },
				...problemResponses("unauthorized", "not-found", "conflict"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const result = await getTaskStub(c.env, id).delete();
			if (result.kind === "not-found") throw taskNotFound(id);
			if (result.kind === "conflict") {
				throw new ProblemError("conflict", `The task is ${result.status}; only succeeded, failed or cancelled tasks can be deleted.`);
			}
			return c.body(null, 204);
		},
	);
