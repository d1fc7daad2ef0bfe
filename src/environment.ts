// The environment taskflare needs from the Worker that uses it (`TaskflareEnv`: bindings and
// optional vars), and the one place where a Worker's env and the entry's options become the view
// the internal code reads: every binding under its default name, every var resolved (option, else
// the Worker's var, else the default). Built once per env object and kept, like readConfig.
import { Config } from "./config";
import type { IdempotencyKeyObject } from "./durable/idempotency-key-object";
import type { LimiterObject } from "./durable/limiter-object";
import type { OperationObject } from "./durable/operation-object";
import type { ScheduleDirectory } from "./durable/schedule-directory";
import type { ScheduleObject } from "./durable/schedule-object";
import type { TaskIndexObject } from "./durable/task-index";
import type { TaskObject } from "./durable/task-object";

/** The bindings taskflare uses, by role, with their types. */
type BindingTypes = {
	taskObject: DurableObjectNamespace<TaskObject>;
	idempotencyKeyObject: DurableObjectNamespace<IdempotencyKeyObject>;
	taskIndex: DurableObjectNamespace<TaskIndexObject>;
	operationObject: DurableObjectNamespace<OperationObject>;
	scheduleObject: DurableObjectNamespace<ScheduleObject>;
	scheduleDirectory: DurableObjectNamespace<ScheduleDirectory>;
	/** Flow control: one limiter per task type with limits and one per (type, concurrencyKey). */
	limiterObject: DurableObjectNamespace<LimiterObject>;
	/** Producer binding of the task queue (the Worker also consumes it). */
	taskQueue: Queue;
	/** Producer binding of the dead-letter queue, only read for its backlog (`GET /v1/stats`). */
	deadLetterQueueMetrics: Queue;
};

/** Each binding's default name: the names of this repository's wrangler.toml. */
const DEFAULT_BINDINGS = {
	taskObject: "TASK_OBJECT",
	idempotencyKeyObject: "IDEMPOTENCY_KEY_OBJECT",
	taskIndex: "TASK_INDEX",
	operationObject: "OPERATION_OBJECT",
	scheduleObject: "SCHEDULE_OBJECT",
	scheduleDirectory: "SCHEDULE_DIRECTORY",
	limiterObject: "LIMITER_OBJECT",
	taskQueue: "TASK_QUEUE",
	deadLetterQueueMetrics: "DEAD_LETTER_QUEUE_METRICS",
} as const satisfies Record<keyof BindingTypes, string>;

/** The exported class each Durable Object binding must name (`class_name` in wrangler.toml). */
const CLASS_NAMES: Record<Exclude<keyof BindingTypes, "taskQueue" | "deadLetterQueueMetrics">, string> = {
	taskObject: "TaskObject",
	idempotencyKeyObject: "IdempotencyKeyObject",
	taskIndex: "TaskIndexObject",
	operationObject: "OperationObject",
	scheduleObject: "ScheduleObject",
	scheduleDirectory: "ScheduleDirectory",
	limiterObject: "LimiterObject",
};

/** Binding names that differ from the defaults, by role (e.g. `{ taskQueue: "JOBS" }`). */
export type BindingNames = { readonly [Role in keyof BindingTypes]?: string };

type NameOf<B extends BindingNames, Role extends keyof BindingTypes> = B[Role] extends string ? B[Role] : (typeof DEFAULT_BINDINGS)[Role];

/** The vars taskflare reads when the matching option is not given (all optional). */
export type TaskflareVars = {
	/** The HTTP API's bearer token (a secret). Option `token`. */
	API_TOKEN?: string;
	/** Option `defaultTaskType`. */
	DEFAULT_TASK_TYPE?: string;
	/** Option `resultTtlSeconds`. */
	RESULT_TTL_SECONDS?: string | number;
	/** Option `redriveAfterSeconds`. */
	REDRIVE_AFTER_SECONDS?: string | number;
	/** Option `deadLetterQueue`. */
	DEAD_LETTER_QUEUE?: string;
	/** Option `indexShards`. */
	INDEX_SHARDS?: string | number;
	/** Option `scheduleMissedAfterSeconds`. */
	SCHEDULE_MISSED_AFTER_SECONDS?: string | number;
	/** Hosts HTTP tasks and completion callbacks may reach (README "HTTP tasks and callbacks"); unset: none. */
	HTTP_ALLOWED_HOSTS?: string;
	/** The `whsec_` secret that signs every outgoing request (a secret); unset: no outgoing requests. */
	WEBHOOK_SECRET?: string;
	/** While rotating: the previous secret, signed with as well (a secret). */
	WEBHOOK_SECRET_PREVIOUS?: string;
};

/**
 * What taskflare needs in a Worker's env: its bindings (under the default names, or those given in
 * the `bindings` option) and, optionally, its vars. Your Worker's `Env` must be assignable to it.
 */
export type TaskflareEnv<B extends BindingNames = Record<never, never>> = {
	[Role in keyof BindingTypes as NameOf<B, Role>]: BindingTypes[Role];
} & TaskflareVars;

/**
 * The env library code reads: what `envResolver` makes of a Worker's env. Every binding under its
 * default name, every var resolved to the string a var is (option, else the Worker's var, else the
 * default), the signing secrets only when set. Library code names this type, never the global
 * `Env` that `wrangler types` generates for this repository's Worker: a user's project has its own
 * (create-hono names it `CloudflareBindings`), so a .d.ts naming `Env` does not compile there.
 */
export type InternalEnv = { [Role in keyof BindingTypes as (typeof DEFAULT_BINDINGS)[Role]]: BindingTypes[Role] } & {
	/** Empty: no token, the API and the dashboard stay closed (bearer-auth.ts). */
	API_TOKEN: string;
	DEFAULT_TASK_TYPE: string;
	RESULT_TTL_SECONDS: string;
	REDRIVE_AFTER_SECONDS: string;
	DEAD_LETTER_QUEUE: string;
	INDEX_SHARDS: string;
	SCHEDULE_MISSED_AFTER_SECONDS: string;
	/** Empty: no host allowed. */
	HTTP_ALLOWED_HOSTS: string;
	WEBHOOK_SECRET?: string;
	WEBHOOK_SECRET_PREVIOUS?: string;
};

/** Options that take the place of vars; each wins over its var, and the var over the default. */
export type TaskflareSettings = {
	/** Bearer token of the HTTP API and the dashboard's sign-in. @defaultValue the `API_TOKEN` var; without either the API is closed */
	token?: string;
	/** Seconds a final task's record (and result) is kept. @defaultValue 604800 (7 days; var `RESULT_TTL_SECONDS`) */
	resultTtlSeconds?: number;
	/** Seconds a due task may show no sign of life before its object re-sends it. @defaultValue 120 (var `REDRIVE_AFTER_SECONDS`) */
	redriveAfterSeconds?: number;
	/** Task index shards, 1..256 (read the README before lowering it). @defaultValue 8 (var `INDEX_SHARDS`) */
	indexShards?: number;
	/** Name of the dead-letter queue, so the consumer tells its batches apart. @defaultValue "taskflare-tasks-dlq" (var `DEAD_LETTER_QUEUE`) */
	deadLetterQueue?: string;
	/** Task type of the seed route `POST /process_task`. @defaultValue "echo" (var `DEFAULT_TASK_TYPE`) */
	defaultTaskType?: string;
	/** A schedule's fire handled this many seconds late counts as missed. @defaultValue 60 (var `SCHEDULE_MISSED_AFTER_SECONDS`) */
	scheduleMissedAfterSeconds?: number;
};

/** The var each setting stands for. */
const VAR_OF = {
	resultTtlSeconds: "RESULT_TTL_SECONDS",
	redriveAfterSeconds: "REDRIVE_AFTER_SECONDS",
	indexShards: "INDEX_SHARDS",
	deadLetterQueue: "DEAD_LETTER_QUEUE",
	defaultTaskType: "DEFAULT_TASK_TYPE",
	scheduleMissedAfterSeconds: "SCHEDULE_MISSED_AFTER_SECONDS",
} as const satisfies Record<Exclude<keyof TaskflareSettings, "token">, keyof Config>;

/** Checks the settings given as options at once (not at the first request): a clear error naming the option. */
export function checkSettings(settings: TaskflareSettings): void {
	const given = Object.fromEntries(
		Object.entries(VAR_OF).flatMap(([option, name]) => {
			const value: unknown = Reflect.get(settings, option);
			return value === undefined ? [] : [[name, value]];
		}),
	);
	const checked = Config.safeParse(given);
	if (!checked.success) {
		const names = new Map<string, string>(Object.entries(VAR_OF).map(([option, name]) => [name, option]));
		const problems = checked.error.issues.map((issue) => `${names.get(String(issue.path[0])) ?? String(issue.path[0])}: ${issue.message}`);
		throw new Error(`taskflare: invalid option ${problems.join("; ")}`);
	}
	if (settings.token !== undefined && settings.token.length === 0) throw new Error("taskflare: option token must not be empty.");
}

/**
 * A function from a Worker's env to the internal view of it, cached per env object. Throws a
 * clear error when a binding is missing or of the wrong kind.
 */
export function envResolver(bindings: BindingNames, settings: TaskflareSettings): (env: object) => InternalEnv {
	const names = { ...DEFAULT_BINDINGS, ...definedOnly(bindings) };
	const views = new WeakMap<object, InternalEnv>();
	return (env) => {
		let view = views.get(env);
		if (!view) {
			view = resolve(env, names, settings);
			views.set(env, view);
		}
		return view;
	};
}

function resolve(env: object, names: Record<keyof BindingTypes, string>, settings: TaskflareSettings): InternalEnv {
	const setting = (option: keyof typeof VAR_OF): unknown => settings[option] ?? varOf(env, VAR_OF[option]);
	// Parsed here (defaults filled in) and handed on as the strings vars are, so readConfig reads
	// the same values from the view.
	const config = Config.parse({
		RESULT_TTL_SECONDS: setting("resultTtlSeconds"),
		REDRIVE_AFTER_SECONDS: setting("redriveAfterSeconds"),
		INDEX_SHARDS: setting("indexShards"),
		DEAD_LETTER_QUEUE: setting("deadLetterQueue"),
		DEFAULT_TASK_TYPE: setting("defaultTaskType"),
		SCHEDULE_MISSED_AFTER_SECONDS: setting("scheduleMissedAfterSeconds"),
	});
	const token = settings.token ?? varOf(env, "API_TOKEN");
	const view: InternalEnv = {
		TASK_OBJECT: namespace(env, names, "taskObject"),
		IDEMPOTENCY_KEY_OBJECT: namespace(env, names, "idempotencyKeyObject"),
		TASK_INDEX: namespace(env, names, "taskIndex"),
		OPERATION_OBJECT: namespace(env, names, "operationObject"),
		SCHEDULE_OBJECT: namespace(env, names, "scheduleObject"),
		SCHEDULE_DIRECTORY: namespace(env, names, "scheduleDirectory"),
		LIMITER_OBJECT: namespace(env, names, "limiterObject"),
		TASK_QUEUE: queue(env, names, "taskQueue"),
		DEAD_LETTER_QUEUE_METRICS: queue(env, names, "deadLetterQueueMetrics"),
		// Empty means "no token": the API and the dashboard stay closed (bearer-auth.ts).
		API_TOKEN: typeof token === "string" ? token : "",
		RESULT_TTL_SECONDS: String(config.RESULT_TTL_SECONDS),
		REDRIVE_AFTER_SECONDS: String(config.REDRIVE_AFTER_SECONDS),
		INDEX_SHARDS: String(config.INDEX_SHARDS),
		DEAD_LETTER_QUEUE: config.DEAD_LETTER_QUEUE,
		DEFAULT_TASK_TYPE: config.DEFAULT_TASK_TYPE,
		SCHEDULE_MISSED_AFTER_SECONDS: String(config.SCHEDULE_MISSED_AFTER_SECONDS),
		HTTP_ALLOWED_HOSTS: stringVar(env, "HTTP_ALLOWED_HOSTS") ?? "",
	};
	// The signing secrets are read only by outbound/signing.ts; passed on as they are (never as options).
	const secrets = Object.fromEntries(
		(["WEBHOOK_SECRET", "WEBHOOK_SECRET_PREVIOUS"] as const).flatMap((name) => {
			const value = stringVar(env, name);
			return value === undefined ? [] : [[name, value]];
		}),
	);
	return { ...view, ...secrets };
}

function stringVar(env: object, name: string): string | undefined {
	const value = varOf(env, name);
	return typeof value === "string" ? value : undefined;
}

function varOf(env: object, name: string): unknown {
	const value: unknown = Reflect.get(env, name);
	return value;
}

function definedOnly(bindings: BindingNames): Partial<Record<keyof BindingTypes, string>> {
	return Object.fromEntries(Object.entries(bindings).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

type NamespaceRole = keyof typeof CLASS_NAMES;

// The class a namespace serves cannot be checked at run time; the binding's kind can.
function namespace<Role extends NamespaceRole>(env: object, names: Record<keyof BindingTypes, string>, role: Role): BindingTypes[Role] {
	const value = varOf(env, names[role]);
	if (!isNamespace<BindingTypes[Role]>(value)) {
		throw new Error(
			`taskflare: the Worker's env has no Durable Object binding "${names[role]}" (class_name "${CLASS_NAMES[role]}"). ` +
				`Add it to wrangler.toml${names[role] === DEFAULT_BINDINGS[role] ? `, or name yours with the option bindings.${role}` : ""}.`,
		);
	}
	return value;
}

function queue(env: object, names: Record<keyof BindingTypes, string>, role: "taskQueue" | "deadLetterQueueMetrics"): Queue {
	const value = varOf(env, names[role]);
	if (!isQueue(value)) {
		throw new Error(
			`taskflare: the Worker's env has no queue producer binding "${names[role]}". ` +
				`Add it to wrangler.toml${names[role] === DEFAULT_BINDINGS[role] ? `, or name yours with the option bindings.${role}` : ""}.`,
		);
	}
	return value;
}

function isNamespace<T extends DurableObjectNamespace<Rpc.DurableObjectBranded>>(value: unknown): value is T {
	return typeof value === "object" && value !== null && "idFromName" in value && "getByName" in value;
}

function isQueue(value: unknown): value is Queue {
	return typeof value === "object" && value !== null && "send" in value && "sendBatch" in value;
}
