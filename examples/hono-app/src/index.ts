// my-app: an existing Hono app on Workers (as `npm create hono` makes one: its env type is
// `CloudflareBindings`, from `npm run cf-typegen`), with routes and auth of its own, that added
// background tasks with taskflare: its JSON API mounted under /jobs (behind the app's auth), and a
// route of the app that submits a typed task with tf.submit.
import { Hono, type MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import { ProblemError, taskflare } from "taskflare";
import { z } from "zod";
import { sendWelcomeEmail } from "./send-welcome-email";

const tf = taskflare({
	tasks: [sendWelcomeEmail],
	// The dead-letter queue of wrangler.toml (the consumer tells its batches apart by this name).
	deadLetterQueue: "my-app-tasks-dlq",
	// The app's own auth protects /jobs/* (below), so taskflare checks no token of its own.
	auth: "none",
});

// taskflare's Durable Object classes, exported under the class names of wrangler.toml.
export class TaskObject extends tf.objects.TaskObject {}
export class IdempotencyKeyObject extends tf.objects.IdempotencyKeyObject {}
export class TaskIndexObject extends tf.objects.TaskIndexObject {}
export class OperationObject extends tf.objects.OperationObject {}
export class ScheduleObject extends tf.objects.ScheduleObject {}
export class ScheduleDirectory extends tf.objects.ScheduleDirectory {}
export class LimiterObject extends tf.objects.LimiterObject {}

type AppEnv = { Bindings: CloudflareBindings };

/** The app's auth: `Authorization: Bearer <APP_TOKEN>`, compared in constant time by hono/bearer-auth. */
const appAuth: MiddlewareHandler<AppEnv> = (c, next) => bearerAuth<AppEnv>({ token: c.env.APP_TOKEN })(c, next);

type Signup = z.infer<typeof Signup>;
const Signup = z.strictObject({ email: z.email(), name: z.string().min(1).max(100) });

const app = new Hono<AppEnv>();

app.get("/", (c) => c.json({ app: c.env.APP_NAME }));

app.use("/api/*", appAuth);

// The app's own route: a sign-up whose welcome email is sent in the background.
app.post("/api/signups", async (c) => {
	const parsed = Signup.safeParse(await c.req.json().catch(() => null));
	if (!parsed.success) return c.json({ error: "invalid sign-up", issues: z.flattenError(parsed.error).fieldErrors }, 422);
	const signup: Signup = parsed.data;
	// Typed by the task type's schema: a wrong payload or an unknown type does not compile.
	const task = await tf.submit(c.env, "send-welcome-email", { to: signup.email, name: signup.name }, { tags: ["signup"] });
	return c.json({ welcomeEmailTaskId: task.id }, 202);
});

// How that email is doing, without going through the HTTP API.
app.get("/api/signups/emails/:taskId", async (c) => {
	const task = await tf.get(c.env, c.req.param("taskId"));
	if (task === null || task.type !== sendWelcomeEmail.type) return c.json({ error: "no such email" }, 404);
	return c.json({ status: task.status, result: task.result ?? null });
});

// taskflare's JSON API under /jobs (POST /jobs/v1/tasks, GET /jobs/v1/tasks/{id}, /jobs/openapi.json, …).
app.use("/jobs/*", appAuth);
app.route("/jobs", tf.routes);

app.onError((error, c) => {
	// tf.submit throws a ProblemError (422, 503) as POST /v1/tasks would answer it.
	if (error instanceof ProblemError) return error.toResponse();
	// The app's auth answers 401 with an HTTPException.
	if (error instanceof HTTPException) return error.getResponse();
	console.error("my-app: unhandled error", error);
	return c.json({ error: "internal error" }, 500);
});

export default { fetch: app.fetch, queue: tf.queue } satisfies ExportedHandler<CloudflareBindings>;
