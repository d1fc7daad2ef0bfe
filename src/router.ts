// Every route group is an OpenAPIHono router made here, so all share the environment type and
// turn zod validation failures into the same 422 problem.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { InternalEnv } from "./environment";
import { requestValidationProblem } from "./errors";
import type { TaskRegistry } from "./tasks/registry";

/** Who may call the JSON API: a bearer token (API_TOKEN), or anyone the host app lets through. */
export type ApiAuth = "token" | "none";

/**
 * `Bindings`: the internal view of the Worker's env (environment.ts). `Variables`: what the entry
 * (taskflare.ts) sets for every request: its task types, and how the JSON API is protected.
 */
export type AppEnv = {
	Bindings: InternalEnv;
	/** `basePath`: where the host app mounted the routes ("" at the root). */
	Variables: { taskTypes: TaskRegistry; auth: ApiAuth; basePath: string };
};

export function createRouter() {
	return new OpenAPIHono<AppEnv>({
		defaultHook: (result) => {
			if (!result.success) throw requestValidationProblem(result.error, result.target);
		},
	});
}
