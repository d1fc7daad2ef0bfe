// The HTTP API: middleware, route groups, and the one error handler.
import { HTTPException } from "hono/http-exception";
import { ProblemError } from "./errors";
import { bearerAuth } from "./middleware/bearer-auth";
import { createRouter } from "./router";
import { seed } from "./routes/seed";
import { taskTypeRoutes } from "./routes/task-types";
import { tasks } from "./routes/tasks";

export const app = createRouter();

app.get("/healthz", (c) => c.json({ status: "ok" }));

for (const path of ["/v1/*", "/process_task", "/task/*"]) app.use(path, bearerAuth());

app.route("/", tasks);
app.route("/", taskTypeRoutes);
app.route("/", seed);

app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });

app.notFound((c) => new ProblemError("not-found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`).toResponse());

app.onError((error) => {
	if (error instanceof ProblemError) return error.toResponse();
	// Hono's own client errors (e.g. "Malformed JSON in request body") are safe to show.
	if (error instanceof HTTPException && error.status === 400) return new ProblemError("bad-request", error.message).toResponse();
	console.error("taskflare: unhandled error", error);
	return new ProblemError("internal", "Something went wrong on our side; the request may be retried.").toResponse();
});
