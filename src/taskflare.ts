// The library entry: `taskflare({ tasks, ...options })` builds everything a Worker needs from its
// options: the fetch and queue handlers, the routes to mount into a host Hono app, the Durable
// Object classes to re-export, and a typed API for the Worker's own code. Options flow from here;
// nothing below keeps a module-level list of task types or binding names.
import { Hono, type MiddlewareHandler } from "hono";
import { basePath as mountPath } from "hono/route";
import type { z } from "zod";
import { notFoundProblem, app as api, problemOnError } from "./app";
import { dashboard as dashboardPages } from "./dashboard/dashboard";
import { IdempotencyKeyObject } from "./durable/idempotency-key-object";
import { LimiterObject } from "./durable/limiter-object";
import { OperationObject } from "./durable/operation-object";
import { ScheduleDirectory } from "./durable/schedule-directory";
import { ScheduleObject } from "./durable/schedule-object";
import { TaskIndexObject } from "./durable/task-index";
import { listTasks } from "./durable/task-index-stub";
import { TaskObject } from "./durable/task-object";
import { findTaskStub } from "./durable/task-stub";
import { type BindingNames, checkSettings, envResolver, type TaskflareEnv, type TaskflareSettings } from "./environment";
import { validationProblem } from "./errors";
import { requestFingerprint, submitMeaning } from "./idempotency";
import { handleBatch } from "./queue/consumer";
import { TypeGates } from "./queue/type-gates";
import type { ApiAuth, AppEnv } from "./router";
import { IdempotencyHeaders, SubmitTaskBody, TaskListQuery, type TaskPage, TaskRecord, type TaskStatus } from "./schemas";
import { fireSubmitter, prepareTask, submitTask } from "./submit";
import type { TaskDefinition } from "./tasks/define-task";
import { taskRegistry } from "./tasks/registry";

export { defineTask, NonRetryableError, RetryLaterError } from "./tasks/define-task";
export { httpTask } from "./tasks/http";
export type { HttpTaskPayload, HttpTaskResult } from "./tasks/http";
export type { CallbackRecord, CallbackTarget } from "./schemas";
export type { Backoff, Progress, TaskContext, TaskDefinition } from "./tasks/define-task";
export { ProblemError } from "./errors";
export type { FieldError } from "./errors";
export type { JsonValue, TaskPage, TaskRecord, TaskStatus, TaskSummary } from "./schemas";
export type { ApiAuth } from "./router";
export type { BindingNames, TaskflareEnv, TaskflareSettings, TaskflareVars } from "./environment";

/** What `taskflare()` takes. Every setting wins over its var in the Worker's env; the var over the default. */
export type TaskflareOptions<
	Tasks extends readonly TaskDefinition[] = readonly TaskDefinition[],
	B extends BindingNames = Record<never, never>,
> = TaskflareSettings & {
	/** The task types this Worker runs (made with `defineTask`); each `type` must be unique. */
	tasks: Tasks;
	/** Binding names that differ from the defaults (TASK_OBJECT, TASK_QUEUE, …), by role. */
	bindings?: B;
	/**
	 * How the JSON API (`/v1/*` and the seed routes) is protected: `"token"` requires
	 * `Authorization: Bearer <token>` (option `token`, else the `API_TOKEN` var; none: every call is
	 * refused); `"none"` checks nothing, for a host app that protects the mounted routes with its
	 * own middleware. The dashboard always uses its own token sign-in. @defaultValue "token"
	 */
	auth?: ApiAuth;
};

/** The env taskflare's handlers and API take: what taskflare needs, and your Worker's own bindings. */
export type WorkerEnv<B extends BindingNames = Record<never, never>> = TaskflareEnv<B> & Cloudflare.Env;

/** The task type names of a list of task types. */
export type TaskType<Tasks extends readonly TaskDefinition[]> = Tasks[number]["type"];

/** The payload `tf.submit` takes for task type `T`: its schema's input type. */
export type PayloadOf<Tasks extends readonly TaskDefinition[], T extends TaskType<Tasks>> =
	Extract<Tasks[number], { type: T }> extends { input: infer Input extends z.ZodType } ? z.input<Input> : never;

/** The envelope fields of a submit, as on `POST /v1/tasks` (`idempotencyKey`: its `Idempotency-Key` header). */
export type SubmitOptions = {
	/** 0..31536000 (a year). @defaultValue 0 */
	delaySeconds?: number;
	/** 1..100. @defaultValue the type's maxAttempts */
	maxAttempts?: number;
	/** Up to 10 tags of 1..64 visible characters. */
	tags?: string[];
	/** 0..9: where tasks wait for the same limit, higher goes first (README "Flow control"). @defaultValue 5 */
	priority?: number;
	/** 1..128 visible characters (e.g. a customer id): the key the type's per-key limits apply to. */
	concurrencyKey?: string;
	/** 1..255 visible ASCII characters: the same key with the same request returns the first task. */
	idempotencyKey?: string;
	/** POST the final record here at each final state (its host must be in HTTP_ALLOWED_HOSTS). */
	callback?: { url: string };
};

/** A query of `tf.list`, as `GET /v1/tasks` takes it (dates as ISO 8601 text or Date). */
export type ListQuery = {
	status?: TaskStatus | readonly TaskStatus[];
	type?: string;
	tag?: string;
	createdAfter?: string | Date;
	createdBefore?: string | Date;
	/** 1..200. @defaultValue 50 */
	limit?: number;
	/** The `nextCursor` of the previous page. */
	cursor?: string;
};

/** What `tf.cancel` found: as `POST /v1/tasks/{id}/cancel` answers 200, 409 or 404. */
export type CancelResult = { kind: "cancelled"; task: TaskRecord } | { kind: "conflict"; status: TaskStatus } | { kind: "not-found" };

/** The Hono environment of `routes` and `dashboard`: any host app can mount them (`app.route`). */
export type RoutesEnv = { Bindings: object; Variables: AppEnv["Variables"] };

/** A Durable Object class built for one taskflare instance: re-export it from your Worker's main module. */
type ObjectClass<Instance> = new (ctx: DurableObjectState, env: object) => Instance;

export type Taskflare<Tasks extends readonly TaskDefinition[], B extends BindingNames = Record<never, never>> = {
	/** The Durable Object classes; export each from the Worker's main module under this name. */
	objects: {
		TaskObject: ObjectClass<TaskObject>;
		IdempotencyKeyObject: ObjectClass<IdempotencyKeyObject>;
		TaskIndexObject: ObjectClass<TaskIndexObject>;
		OperationObject: ObjectClass<OperationObject>;
		ScheduleObject: ObjectClass<ScheduleObject>;
		ScheduleDirectory: ObjectClass<ScheduleDirectory>;
		LimiterObject: ObjectClass<LimiterObject>;
	};
	/** The whole HTTP surface at the root: the JSON API, `/openapi.json`, `/docs` and the dashboard at `/dashboard`. */
	fetch: (request: Request, env: WorkerEnv<B>, ctx: ExecutionContext) => Promise<Response>;
	/**
	 * The queue consumer, for the task queue and its dead-letter queue. Every batch that is not from
	 * the dead-letter queue is read as task messages (others are dropped): route the batches of
	 * your own queues elsewhere before calling it.
	 */
	queue: (batch: MessageBatch, env: WorkerEnv<B>, ctx?: ExecutionContext) => Promise<void>;
	/**
	 * The JSON API (with `/healthz`, `/openapi.json`, `/docs`) as a Hono app to mount under a prefix:
	 * `app.route("/jobs", tf.routes)`. Not the dashboard (see `dashboard`).
	 */
	routes: Hono<RoutesEnv>;
	/**
	 * The dashboard as a Hono app serving `/dashboard/*`. Its links and cookie are absolute, so mount
	 * it at the root only: `app.route("/", tf.dashboard)` (`fetch` already serves it).
	 */
	dashboard: Hono<RoutesEnv>;
	/** Validates and submits a task, as `POST /v1/tasks` does; throws a ProblemError (422, 503) as that route answers. */
	submit<T extends TaskType<Tasks>>(env: WorkerEnv<B>, type: T, payload: PayloadOf<Tasks, T>, options?: SubmitOptions): Promise<TaskRecord>;
	/** The task's record; null if there is no such task. */
	get(env: WorkerEnv<B>, id: string): Promise<TaskRecord | null>;
	/** The record once the task is final, or after `timeoutSeconds` (0..60), whichever is first; null if there is no such task. */
	wait(env: WorkerEnv<B>, id: string, options: { timeoutSeconds: number }): Promise<TaskRecord | null>;
	/** Cancels a queued or retrying task. */
	cancel(env: WorkerEnv<B>, id: string): Promise<CancelResult>;
	/** One page of tasks, newest first, as `GET /v1/tasks`; a bad query throws a ProblemError (422). */
	list(env: WorkerEnv<B>, query?: ListQuery): Promise<TaskPage>;
};

/**
 * Builds taskflare for a Worker from its task types and options.
 * @example
 * const tf = taskflare({ tasks: [resizeImage, sendEmail] });
 * export class TaskObject extends tf.objects.TaskObject {} // … and the six other classes
 * export default { fetch: tf.fetch, queue: tf.queue } satisfies ExportedHandler<Env>;
 */
export function taskflare<const Tasks extends readonly TaskDefinition[], const B extends BindingNames = Record<never, never>>(
	options: TaskflareOptions<Tasks, B>,
): Taskflare<Tasks, B> {
	const { tasks, bindings = {}, auth = "token", ...settings } = options;
	if (auth !== "token" && auth !== "none") throw new Error(`taskflare: option auth must be "token" or "none".`);
	checkSettings(settings);
	const taskTypes = taskRegistry(tasks);
	const view = envResolver(bindings, settings);
	const gates = new TypeGates();
	const submitFire = fireSubmitter(taskTypes);

	// Each class takes the Worker's env and works on its view (bindings renamed, settings applied).
	const objects = {
		TaskObject: class extends TaskObject {
			constructor(ctx: DurableObjectState, env: object) {
				super(ctx, view(env));
			}
		},
		IdempotencyKeyObject: class extends IdempotencyKeyObject {
			constructor(ctx: DurableObjectState, env: object) {
				super(ctx, view(env));
			}
		},
		TaskIndexObject: class extends TaskIndexObject {
			constructor(ctx: DurableObjectState, env: object) {
				super(ctx, view(env));
			}
		},
		OperationObject: class extends OperationObject {
			constructor(ctx: DurableObjectState, env: object) {
				super(ctx, view(env));
			}
		},
		ScheduleObject: class extends ScheduleObject {
			constructor(ctx: DurableObjectState, env: object) {
				super(ctx, view(env), submitFire);
			}
		},
		ScheduleDirectory: class extends ScheduleDirectory {
			constructor(ctx: DurableObjectState, env: object) {
				super(ctx, view(env));
			}
		},
		LimiterObject: class extends LimiterObject {
			constructor(ctx: DurableObjectState, env: object) {
				super(ctx, view(env));
			}
		},
	};

	/**
	 * Runs the internal routes on the env's view with this instance's task types and auth, then
	 * gives the host app its env back. Under a prefix, `Location` headers get the prefix too.
	 */
	const context: MiddlewareHandler<RoutesEnv> = async function taskflareContext(c, next) {
		const workerEnv = c.env;
		// Where the host app mounted these routes ("/jobs"; "" at the root).
		const basePath = mountPath(c).replace(/\/$/, "");
		c.env = view(workerEnv);
		c.set("taskTypes", taskTypes);
		c.set("auth", auth);
		c.set("basePath", basePath);
		try {
			await next();
		} finally {
			c.env = workerEnv;
		}
		const location = c.res.headers.get("Location");
		if (basePath !== "" && location?.startsWith("/")) {
			c.res = new Response(c.res.body, c.res);
			c.res.headers.set("Location", `${basePath}${location}`);
		}
	};
	const mountable = () => {
		const hono = new Hono<RoutesEnv>();
		hono.use("*", context);
		return hono;
	};
	const routes = mountable().route("/", api);
	const dashboard = mountable().route("/dashboard", dashboardPages);
	const worker = mountable().route("/", api).route("/dashboard", dashboardPages);
	worker.notFound(notFoundProblem);
	worker.onError(problemOnError);

	const record = (json: string) => TaskRecord.parse(JSON.parse(json));
	const get = async (env: WorkerEnv<B>, id: string, waitSeconds: number) => {
		const json = await findTaskStub(view(env), id)?.get(waitSeconds);
		return json === undefined || json === null ? null : record(json);
	};

	return {
		objects,
		fetch: async (request, env, ctx) => worker.fetch(request, env, ctx),
		queue: (batch, env) => handleBatch(batch, view(env), { taskTypes, gates, handlerEnv: env }),
		routes,
		dashboard,
		async submit(env, type, payload, submitOptions = {}) {
			const { idempotencyKey, ...envelope } = submitOptions;
			const body = SubmitTaskBody.safeParse({ ...envelope, type, payload });
			if (!body.success) throw validationProblem(body.error);
			const input = prepareTask(taskTypes, view(env), body.data);
			let idempotency: { key: string; fingerprint: string } | undefined;
			if (idempotencyKey !== undefined) {
				const key = IdempotencyHeaders.safeParse({ "idempotency-key": idempotencyKey });
				if (!key.success) throw validationProblem(key.error);
				// The fingerprint of POST /v1/tasks: the same key and request in-Worker and over HTTP is one request.
				idempotency = {
					key: idempotencyKey,
					fingerprint: await requestFingerprint("POST /v1/tasks", submitMeaning(input, body.data.payload)),
				};
			}
			return record((await submitTask(view(env), input, idempotency)).recordJson);
		},
		get: (env, id) => get(env, id, 0),
		async wait(env, id, { timeoutSeconds }) {
			if (!(Number.isInteger(timeoutSeconds) && timeoutSeconds >= 0 && timeoutSeconds <= 60)) {
				throw new RangeError("taskflare: wait() takes timeoutSeconds as a whole number from 0 to 60.");
			}
			return get(env, id, timeoutSeconds);
		},
		async cancel(env, id) {
			const result = (await findTaskStub(view(env), id)?.cancel()) ?? { kind: "not-found" };
			return result.kind === "cancelled" ? { kind: "cancelled", task: record(result.recordJson) } : result;
		},
		async list(env, query = {}) {
			const { createdAfter, createdBefore, ...rest } = query;
			const parsed = TaskListQuery.safeParse({
				...rest,
				...(createdAfter === undefined ? {} : { createdAfter: createdAfter instanceof Date ? createdAfter.toISOString() : createdAfter }),
				...(createdBefore === undefined
					? {}
					: { createdBefore: createdBefore instanceof Date ? createdBefore.toISOString() : createdBefore }),
			});
			if (!parsed.success) throw validationProblem(parsed.error);
			return listTasks(view(env), parsed.data);
		},
	};
}
