// GET /v1/tasks: find tasks through the task index (newest first, filtered, paged by cursor).
import { createRoute } from "@hono/zod-openapi";
import { listTasks } from "../durable/task-index-stub";
import { createRouter } from "../router";
import { TaskListQuery, TaskPage } from "../schemas";
import { bearerSecurity, problemResponses } from "./responses";

export const taskList = createRouter().openapi(
	createRoute({
		method: "get",
		path: "/v1/tasks",
		summary: "List tasks, newest first, by status, type, tag and creation time",
		description:
			"Items are summaries (no payload or result). Follow `nextCursor` for the next page; tasks submitted " +
			"meanwhile never shift the pages (they appear on a fresh first page). Terminal tasks are listed while " +
			"their record is kept (RESULT_TTL_SECONDS).",
		security: bearerSecurity,
		request: { query: TaskListQuery },
		responses: {
			200: { description: "One page of tasks.", content: { "application/json": { schema: TaskPage } } },
			...problemResponses("unauthorized", "validation-failed"),
		},
	}),
	async (c) => c.json(await listTasks(c.env, c.req.valid("query")), 200),
);
