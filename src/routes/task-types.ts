// /v1/task-types: what can be submitted, with each type's payload JSON Schema.
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../router";
import { type TaskTypeInfo, TaskTypeList } from "../schemas";
import { taskTypes } from "../tasks/registry";
import { bearerSecurity, problemResponses } from "./responses";

let cached: TaskTypeInfo[] | undefined;

/** Built on first use and kept: the registry never changes while the Worker runs. Also used by the dashboard's submit form. */
export function describeTaskTypes(): TaskTypeInfo[] {
	cached ??= [...taskTypes.values()].map((definition) => ({
		type: definition.type,
		description: definition.description,
		inputSchema: z.toJSONSchema(definition.input, { io: "input", unrepresentable: "any" }),
		maxAttempts: definition.maxAttempts,
		timeoutSeconds: definition.timeoutSeconds,
	}));
	return cached;
}

export const taskTypeRoutes = createRouter().openapi(
	createRoute({
		method: "get",
		path: "/v1/task-types",
		summary: "List the registered task types",
		security: bearerSecurity,
		responses: {
			200: { description: "Every task type, with its payload schema.", content: { "application/json": { schema: TaskTypeList } } },
			...problemResponses("unauthorized"),
		},
	}),
	(c) => c.json({ types: describeTaskTypes() }, 200),
);
