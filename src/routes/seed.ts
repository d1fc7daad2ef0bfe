// Routes of the original FastAPI + Redis design, so its clients keep working unchanged.
import { createRoute } from "@hono/zod-openapi";
import { readConfig } from "../config";
import { getTaskStub, taskNotFound } from "../durable/task-stub";
import { jsonBody } from "../middleware/json-body";
import { createRouter } from "../router";
import { IdempotencyHeaders, SeedSubmitBody, SeedSubmitResponse, SeedTaskResponse, TaskIdParams, TaskRecord } from "../schemas";

/** The parts of a record this route answers with. */
const SeedRecordView = TaskRecord.pick({ id: true, status: true, result: true });
import { requestFingerprint, submitMeaning } from "../idempotency";
import { prepareTask, submitTask } from "../submit";
import { bearerSecurity, problemResponses, replayedHeader } from "./responses";

export const seed = createRouter()
	.openapi(
		createRoute({
			method: "post",
			path: "/process_task",
			summary: "Seed-compatible submit: enqueue the default task type with this JSON object",
			security: bearerSecurity,
			middleware: [jsonBody()],
			request: {
				headers: IdempotencyHeaders,
				body: { required: true, content: { "application/json": { schema: SeedSubmitBody } } },
			},
			responses: {
				202: { description: "Enqueued.", content: { "application/json": { schema: SeedSubmitResponse } } },
				200: {
					description: "A repeat of an earlier request with the same Idempotency-Key and body: the original task's id.",
					headers: replayedHeader,
					content: { "application/json": { schema: SeedSubmitResponse } },
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
			const body = { type: readConfig(c.env).DEFAULT_TASK_TYPE, payload: c.req.valid("json") };
			const key = c.req.valid("header")["idempotency-key"];
			const input = prepareTask(c.var.taskTypes, c.env, body);
			const idempotency =
				key === undefined
					? undefined
					: { key, fingerprint: await requestFingerprint("POST /process_task", submitMeaning(input, body.payload)) };
			const { id, replayed } = await submitTask(c.env, input, idempotency);
			return replayed
				? c.json({ message: "Task submitted", id }, 200, { "Idempotent-Replayed": "true" })
				: c.json({ message: "Task submitted", id }, 202);
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/task/{id}",
			summary: "Seed-compatible lookup: status and result",
			security: bearerSecurity,
			request: { params: TaskIdParams },
			responses: {
				200: {
					description: "Status, and the result once succeeded (else null).",
					content: { "application/json": { schema: SeedTaskResponse } },
				},
				...problemResponses("unauthorized", "not-found"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const recordJson = await getTaskStub(c.env, id).get();
			if (recordJson === null) throw taskNotFound(id);
			const record = SeedRecordView.parse(JSON.parse(recordJson));
			return c.json({ id: record.id, status: record.status, result: record.result ?? null }, 200);
		},
	);
