// The HTTP API: middleware, route groups, and the one error handler. The entry (taskflare.ts)
// serves it with the dashboard, or mounts it into a host app.
import { createRoute } from "@hono/zod-openapi";
import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { docsContentSecurityPolicy, renderDocsPage } from "./docs-page";
import { ProblemError } from "./errors";
import { bearerAuth } from "./middleware/bearer-auth";
import { securityHeaders } from "./middleware/security-headers";
import { openApiDocument } from "./openapi-document";
import { createRouter } from "./router";
import { operations } from "./routes/operations";
import { Health, JsonValue, TaskEvent } from "./schemas";
import { schedules } from "./routes/schedules";
import { limits } from "./routes/limits";
import { seed } from "./routes/seed";
import { stats } from "./routes/stats";
import { taskList } from "./routes/task-list";
import { taskTypeRoutes } from "./routes/task-types";
import { tasks } from "./routes/tasks";
import type { TaskRegistry } from "./tasks/registry";

export const app = createRouter();

// First, so its headers reach every answer, errors included.
app.use("*", securityHeaders());

app.openapi(
	createRoute({
		method: "get",
		path: "/healthz",
		summary: "Liveness check (no token needed)",
		responses: { 200: { description: "The Worker is up.", content: { "application/json": { schema: Health } } } },
	}),
	(c) => c.json({ status: "ok" as const }, 200),
);

for (const path of ["/v1/*", "/process_task", "/task/*"]) app.use(path, securityHeaders({ noStore: true }), bearerAuth());

app.route("/", tasks);
app.route("/", taskList);
app.route("/", stats);
app.route("/", operations);
app.route("/", taskTypeRoutes);
app.route("/", seed);
app.route("/", schedules);
app.route("/", limits);

app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });
// Before any schema using it: the component is made from its first use, which must not be one
// carrying a field's own description.
app.openAPIRegistry.register("JsonValue", JsonValue);
// The data of each event of GET /v1/tasks/{id}/events (a text/event-stream, so no route references it).
app.openAPIRegistry.register("TaskEvent", TaskEvent);

// Built on first request for each set of task types and kept: neither changes while the Worker runs.
const documents = new WeakMap<TaskRegistry, { json: ReturnType<typeof openApiDocument>; docsPage?: string }>();
function documentFor(taskTypes: TaskRegistry) {
	let built = documents.get(taskTypes);
	if (built === undefined) documents.set(taskTypes, (built = { json: openApiDocument(app, taskTypes.values()) }));
	return built;
}
// Mounted under a prefix, the document says where its paths are.
app.get("/openapi.json", (c) => {
	const { json } = documentFor(c.var.taskTypes);
	return c.json(c.var.basePath ? { ...json, servers: [{ url: c.var.basePath }] } : json);
});
app.get("/docs", async (c) => {
	c.header("Content-Security-Policy", await docsContentSecurityPolicy());
	c.header("X-Frame-Options", "DENY");
	const built = documentFor(c.var.taskTypes);
	return c.html((built.docsPage ??= renderDocsPage(built.json)));
});

/** 405 with `Allow` when another method answers the path, else 404. Also the Worker's, in taskflare.ts. */
export const notFoundProblem: NotFoundHandler = (c) => {
	const path = new URL(c.req.url).pathname;
	const allowed = allowedMethods(path);
	if (allowed.length > 0) {
		return new ProblemError("method-not-allowed", `${path} answers ${allowed.join(", ")}, not ${c.req.method}.`, {
			headers: { Allow: allowed.join(", ") },
		}).toResponse();
	}
	return new ProblemError("not-found", `No route for ${c.req.method} ${path}.`).toResponse();
};
app.notFound(notFoundProblem);

/** Method and path pattern of every route (not middleware), built on first use: for 405's Allow. */
let routes: { method: string; pattern: RegExp }[] | undefined;

/** The methods some route answers at `path` (HEAD wherever GET is: Hono answers it); empty if none. */
function allowedMethods(path: string): string[] {
	routes ??= app.routes
		.filter((route) => route.method !== "ALL")
		.map((route) => ({ method: route.method, pattern: routePattern(route.path) }));
	const methods = new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method));
	if (methods.has("GET")) methods.add("HEAD");
	return [...methods];
}

/** A Hono route path (`/v1/tasks/:id`, `/task/*`) as a regular expression over whole paths. */
function routePattern(path: string): RegExp {
	const source = path
		.split("/")
		.map((segment) => (segment.startsWith(":") ? "[^/]+" : segment === "*" ? ".*" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
		.join("/");
	return new RegExp(`^${source}$`);
}

/** Every error as a problem; only ours and Hono's 400s say what went wrong. Also the Worker's, in taskflare.ts. */
export const problemOnError: ErrorHandler = (error) => {
	if (error instanceof ProblemError) return error.toResponse();
	// Hono's own client errors (e.g. "Malformed JSON in request body") are safe to show.
	if (error instanceof HTTPException && error.status === 400) return new ProblemError("bad-request", error.message).toResponse();
	console.error("taskflare: unhandled error", error);
	return new ProblemError("internal", "Something went wrong on our side; the request may be retried.").toResponse();
};
app.onError(problemOnError);
