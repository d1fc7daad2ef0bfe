// /v1/tasks: submit, look up (optionally long-polling), cancel.
import { createRoute } from "@hono/zod-openapi";
import { ProblemError } from "../errors";
import { getTaskStub, taskNotFound } from "../durable/task-stub";
import { jsonBody } from "../middleware/json-body";
import { createRouter } from "../router";
import { SubmitTaskBody, TaskIdParams, TaskRecord, WaitQuery } from "../schemas";
import { prepareTask, submitTask } from "../submit";
import { bearerSecurity, jsonText, problemResponses } from "./responses";

const recordContent = { "application/json": { schema: TaskRecord } };

export const tasks = createRouter()
	.openapi(
		createRoute({
			method: "post",
			path: "/v1/tasks",
			summary: "Submit a task",
			security: bearerSecurity,
			middleware: [jsonBody()],
			request: { body: { required: true, content: { "application/json": { schema: SubmitTaskBody } } } },
			responses: {
				202: {
					description: "Recorded and enqueued. `Location` points at the task.",
					headers: { Location: { schema: { type: "string" }, description: "/v1/tasks/{id}" } },
					content: recordContent,
				},
				...problemResponses("bad-request", "unauthorized", "payload-too-large", "unsupported-media-type", "validation-failed"),
			},
		}),
		async (c) => {
			const { id, recordJson } = await submitTask(c.env, prepareTask(c.req.valid("json")));
			return jsonText<TaskRecord, 202>(recordJson, 202, { Location: `/v1/tasks/${id}` });
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
	);
