// /v1/schedules: create (POST, or PUT with your own id), list, get, change (PATCH), delete, and
// trigger (run now). Each schedule is its own Durable Object (src/durable/schedule-object.ts),
// which does the validation that needs the whole schedule and fires by its alarm.
import { createRoute } from "@hono/zod-openapi";
import { type PutResult, type ScheduleInput, type ScheduleView, taskStatus, withScheduleTag } from "../durable/schedule-object";
import { scheduleDirectoryStub } from "../durable/schedule-directory-stub";
import { getScheduleStub, scheduleNotFound } from "../durable/schedule-stub";
import type { InternalEnv } from "../environment";
import { type FieldError, ProblemError } from "../errors";
import { jsonBody } from "../middleware/json-body";
import { createRouter } from "../router";
import {
	SCHEDULE_ID,
	ScheduleBody,
	ScheduleDetail,
	ScheduleIdParams,
	ScheduleList,
	ScheduleListQuery,
	SchedulePatch,
	type ScheduleTask,
} from "../schedule-schemas";
import { TaskRecord, type TaskStatus } from "../schemas";
import { prepareTask } from "../submit";
import type { TaskRegistry } from "../tasks/registry";
import { bearerSecurity, jsonText, locationHeader, problemResponses, replayedHeader } from "./responses";

const detailContent = { "application/json": { schema: ScheduleDetail } };
const invalid = (errors: FieldError[]) =>
	new ProblemError("validation-failed", "The request did not pass validation; see errors.", { errors });

export const schedules = createRouter()
	.openapi(
		createRoute({
			method: "post",
			path: "/v1/schedules",
			summary: "Create a schedule (cron or interval) with a generated id",
			description: "To create idempotently with your own id, use `PUT /v1/schedules/{id}`.",
			security: bearerSecurity,
			middleware: [jsonBody()],
			request: { body: { required: true, content: { "application/json": { schema: ScheduleBody } } } },
			responses: {
				201: {
					description: "Created. `Location` points at the schedule.",
					headers: locationHeader("/v1/schedules/{id}"),
					content: detailContent,
				},
				...problemResponses("bad-request", "unauthorized", "conflict", "payload-too-large", "unsupported-media-type", "validation-failed"),
			},
		}),
		async (c) => {
			const id = crypto.randomUUID();
			const result = await getScheduleStub(c.env, id).put(id, toInput(c.var.taskTypes, c.env, c.req.valid("json"), id));
			const view = putView(result);
			return jsonText<ScheduleDetail, 201>(await detailJson(c.env, view), 201, { Location: `/v1/schedules/${id}` });
		},
	)
	.openapi(
		createRoute({
			method: "put",
			path: "/v1/schedules/{id}",
			summary: "Create or replace the schedule with this id (idempotent)",
			description:
				"Repeating the same body changes nothing. A different body replaces the configuration (runs and counts are kept; " +
				"the cadence starts afresh from now). Ids: 1..55 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.",
			security: bearerSecurity,
			middleware: [jsonBody()],
			request: { params: ScheduleIdParams, body: { required: true, content: { "application/json": { schema: ScheduleBody } } } },
			responses: {
				201: { description: "Created.", headers: locationHeader("/v1/schedules/{id}"), content: detailContent },
				200: { description: "Replaced, or unchanged (same body as before).", content: detailContent },
				...problemResponses("bad-request", "unauthorized", "conflict", "payload-too-large", "unsupported-media-type", "validation-failed"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			if (!SCHEDULE_ID.test(id)) {
				throw invalid([{ path: "id", message: "1..55 of A-Z a-z 0-9 . _ -, starting with a letter or digit." }]);
			}
			const result = await getScheduleStub(c.env, id).put(id, toInput(c.var.taskTypes, c.env, c.req.valid("json"), id));
			const json = await detailJson(c.env, putView(result));
			return result.kind === "created"
				? jsonText<ScheduleDetail, 201>(json, 201, { Location: `/v1/schedules/${id}` })
				: jsonText<ScheduleDetail, 200>(json, 200);
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/v1/schedules",
			summary: "List schedules (by id, cursor-paginated)",
			security: bearerSecurity,
			request: { query: ScheduleListQuery },
			responses: {
				200: { description: "A page of schedules.", content: { "application/json": { schema: ScheduleList } } },
				...problemResponses("unauthorized", "validation-failed"),
			},
		}),
		async (c) => {
			const { limit = 50, cursor } = c.req.valid("query");
			const after = cursor === undefined ? null : decodeCursor(cursor);
			const page = await scheduleDirectoryStub(c.env).list(after, limit);
			const nextCursor = page.more && page.lastId !== null ? encodeCursor(page.lastId) : null;
			return jsonText<ScheduleList, 200>(`{"schedules":[${page.items.join(",")}],"nextCursor":${JSON.stringify(nextCursor)}}`, 200);
		},
	)
	.openapi(
		createRoute({
			method: "get",
			path: "/v1/schedules/{id}",
			summary: "Get a schedule with its next 5 fire times and last 20 runs",
			security: bearerSecurity,
			request: { params: ScheduleIdParams },
			responses: {
				200: { description: "The schedule.", content: detailContent },
				...problemResponses("unauthorized", "not-found"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const view = await getScheduleStub(c.env, id).get();
			if (view === null) throw scheduleNotFound(id);
			return jsonText<ScheduleDetail, 200>(await detailJson(c.env, view), 200);
		},
	)
	.openapi(
		createRoute({
			method: "patch",
			path: "/v1/schedules/{id}",
			summary: "Pause, resume or change a schedule",
			description:
				"Send only the fields to change (`null` clears `startAt`/`endAt`; `cron` replaces `every` and back). " +
				"Resuming applies `catchUp` to the fires the pause missed. Changing the cadence or window starts it afresh from now.",
			security: bearerSecurity,
			middleware: [jsonBody()],
			request: { params: ScheduleIdParams, body: { required: true, content: { "application/json": { schema: SchedulePatch } } } },
			responses: {
				200: { description: "The changed schedule.", content: detailContent },
				...problemResponses("bad-request", "unauthorized", "not-found", "payload-too-large", "unsupported-media-type", "validation-failed"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const stub = getScheduleStub(c.env, id);
			const body = c.req.valid("json");
			const { task, startAt, endAt, ...rest } = body;
			const result = await stub.patch({
				...rest,
				...(task === undefined ? {} : { task: toTask(c.var.taskTypes, c.env, task, id) }),
				...(startAt === undefined ? {} : { startAt: startAt === null ? null : Date.parse(startAt) }),
				...(endAt === undefined ? {} : { endAt: endAt === null ? null : Date.parse(endAt) }),
			});
			if (result.kind === "not-found") throw scheduleNotFound(id);
			if (result.kind === "invalid") throw invalid(result.errors);
			return jsonText<ScheduleDetail, 200>(await detailJson(c.env, result.view), 200);
		},
	)
	.openapi(
		createRoute({
			method: "delete",
			path: "/v1/schedules/{id}",
			summary: "Delete a schedule (its tasks are kept)",
			security: bearerSecurity,
			request: { params: ScheduleIdParams },
			responses: {
				204: { description: "Deleted: it will not fire again." },
				...problemResponses("unauthorized", "not-found"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			if (!(await getScheduleStub(c.env, id).remove(id))) throw scheduleNotFound(id);
			return c.body(null, 204);
		},
	)
	.openapi(
		createRoute({
			method: "post",
			path: "/v1/schedules/{id}/trigger",
			summary: "Run the schedule's task now, outside its cadence",
			description:
				"The fire time is now, to the second: triggers within the same second (or a cadence fire at that second) create one task; " +
				"the repeats answer 200 with `Idempotent-Replayed: true`. Works while paused or ended; `overlap` is not applied.",
			security: bearerSecurity,
			request: { params: ScheduleIdParams },
			responses: {
				202: {
					description: "The task was submitted.",
					headers: locationHeader("/v1/tasks/{id}"),
					content: { "application/json": { schema: TaskRecord } },
				},
				200: {
					description: "This second's fire already had its task: that task.",
					headers: { ...locationHeader("/v1/tasks/{id}"), ...replayedHeader },
					content: { "application/json": { schema: TaskRecord } },
				},
				...problemResponses("unauthorized", "not-found", "validation-failed", "unavailable"),
			},
		}),
		async (c) => {
			const { id } = c.req.valid("param");
			const result = await getScheduleStub(c.env, id).trigger();
			if (result.kind === "not-found") throw scheduleNotFound(id);
			if (result.kind === "rejected") throw invalid(result.errors);
			if (result.kind === "unavailable") {
				throw new ProblemError("unavailable", "The task could not be recorded. Retry: this second's fire is created once.", {
					headers: { "Retry-After": "1" },
				});
			}
			const location = { Location: `/v1/tasks/${result.taskId}` };
			return result.replayed
				? jsonText<TaskRecord, 200>(result.recordJson, 200, { ...location, "Idempotent-Replayed": "true" })
				: jsonText<TaskRecord, 202>(result.recordJson, 202, location);
		},
	);

/** The body as the schedule's object takes it; the task is checked here like a submit (422 paths `task.*`). */
function toInput(taskTypes: TaskRegistry, env: InternalEnv, body: ScheduleBody, id: string): ScheduleInput {
	const { task, startAt, endAt, ...rest } = body;
	return {
		...rest,
		task: toTask(taskTypes, env, task, id),
		...(startAt === undefined ? {} : { startAt: Date.parse(startAt) }),
		...(endAt === undefined ? {} : { endAt: Date.parse(endAt) }),
	};
}

function toTask(taskTypes: TaskRegistry, env: InternalEnv, task: ScheduleTask, id: string): ScheduleInput["task"] {
	// Checked with the tag every fire adds, so a fire cannot fail on it later.
	prepareTask(taskTypes, env, { ...task, tags: withScheduleTag(task.tags, id) }, ["task"]);
	return {
		type: task.type,
		payloadJson: task.payload === undefined ? "{}" : JSON.stringify(task.payload),
		...(task.maxAttempts === undefined ? {} : { maxAttempts: task.maxAttempts }),
		...(task.tags === undefined ? {} : { tags: task.tags }),
		...(task.callback === undefined ? {} : { callback: { url: task.callback.url } }),
		...(task.priority === undefined ? {} : { priority: task.priority }),
		...(task.concurrencyKey === undefined ? {} : { concurrencyKey: task.concurrencyKey }),
	};
}

function putView(result: PutResult): ScheduleView {
	if (result.kind === "invalid") throw invalid(result.errors);
	if (result.kind === "full") throw new ProblemError("conflict", `There are already ${result.max} schedules (the limit).`);
	return result.view;
}

/** The ScheduleDetail as JSON text: the object's view plus each run's task status, looked up now. */
async function detailJson(env: InternalEnv, view: ScheduleView): Promise<string> {
	const ids = [...new Set(view.runs.flatMap((run) => (run.taskId === undefined ? [] : [run.taskId])))];
	const statuses = new Map<string, TaskStatus | null>(
		await Promise.all(ids.map(async (taskId) => [taskId, await taskStatus(env, taskId)] as const)),
	);
	const runs = view.runs.map((run) => {
		const status = run.taskId === undefined ? null : (statuses.get(run.taskId) ?? null);
		return status === null ? run : { ...run, status };
	});
	const tail = JSON.stringify({ state: view.state, nextFires: view.nextFires, runs, counts: view.counts });
	return `${view.configJson.slice(0, -1)},${tail.slice(1)}`;
}

// The cursor is the last listed id, base64url-encoded: opaque to clients, stable under inserts.
function encodeCursor(id: string): string {
	return btoa(id).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decodeCursor(cursor: string): string {
	try {
		const id = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
		if (SCHEDULE_ID.test(id)) return id;
	} catch {
		// Not base64: reported below.
	}
	throw invalid([{ path: "cursor", message: "Not a cursor returned by this API." }]);
}
