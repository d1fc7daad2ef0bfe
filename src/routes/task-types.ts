// /v1/task-types: what can be submitted, with each type's payload JSON Schema.
import { createRoute } from "@hono/zod-openapi";
import { codeLimits } from "../limits";
import { createRouter } from "../router";
import { type TaskTypeInfo, TaskTypeList } from "../schemas";
import { inputJsonSchema } from "../tasks/define-task";
import type { TaskRegistry } from "../tasks/registry";
import { bearerSecurity, problemResponses } from "./responses";

const cache = new WeakMap<TaskRegistry, TaskTypeInfo[]>();

/** Built on first use and kept: a registry never changes while the Worker runs. Also used by the dashboard's submit form. */
export function describeTaskTypes(taskTypes: TaskRegistry): TaskTypeInfo[] {
	const cached = cache.get(taskTypes);
	if (cached) return cached;
	const described = [...taskTypes.values()].map((definition) => ({
		type: definition.type,
		description: definition.description,
		inputSchema: inputJsonSchema(definition),
		maxAttempts: definition.maxAttempts,
		timeoutSeconds: definition.timeoutSeconds,
		limits: codeLimits(definition),
	}));
	cache.set(taskTypes, described);
	return described;
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
	(c) => c.json({ types: describeTaskTypes(c.var.taskTypes) }, 200),
);
