// Every route group is an OpenAPIHono router made here, so all share the environment type and
// turn zod validation failures into the same 422 problem.
import { OpenAPIHono } from "@hono/zod-openapi";
import { validationProblem } from "./errors";

export type AppEnv = { Bindings: Env };

export function createRouter() {
	return new OpenAPIHono<AppEnv>({
		defaultHook: (result) => {
			if (!result.success) throw validationProblem(result.error);
		},
	});
}
