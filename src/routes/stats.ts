// GET /v1/stats: how many tasks are in each state, the last hour's throughput, the queues' backlog.
import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../router";
import { TaskStats } from "../schemas";
import { readStats } from "../stats";
import { bearerSecurity, problemResponses } from "./responses";

export const stats = createRouter().openapi(
	createRoute({
		method: "get",
		path: "/v1/stats",
		summary: "Counts per status and type, tasks per minute over the last hour, queue backlogs",
		description:
			"Counts of queued, running and retrying tasks are exact; terminal tasks are counted while their " +
			"record is kept. Counts may lag changes by about a second.",
		security: bearerSecurity,
		responses: {
			200: { description: "The current statistics.", content: { "application/json": { schema: TaskStats } } },
			...problemResponses("unauthorized"),
		},
	}),
	async (c) => c.json(await readStats(c.env), 200),
);
