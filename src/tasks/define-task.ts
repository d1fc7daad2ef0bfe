// The API for declaring a task type. A task type is a plain object made by `defineTask`; the
// `tasks` option of the entry (src/taskflare.ts) lists them. Nothing here touches Queues or
// Durable Objects.
import { z } from "zod";
import type { InternalEnv } from "../environment";
import type { FieldError } from "../errors";
import { MAX_LIMIT, RateLimit } from "../limit-schemas";
import { JsonValue } from "../schemas";

/** What a handler may report with `ctx.progress()`: a percentage, or a small JSON object such as `{ done: 3, of: 10 }`. */
export type Progress = z.infer<typeof Progress>;
export const Progress = z.union([z.number().min(0).max(100), z.record(z.string(), JsonValue)]);

/** Throw this from a handler to fail the task at once, without further attempts. */
export class NonRetryableError extends Error {
	override name = "NonRetryableError";
}

/**
 * Throw this to have the next attempt start after `retryAfterSeconds` instead of the backoff's
 * delay (e.g. an HTTP `Retry-After`); at least 1 s, at most the type's `backoff.maxSeconds`.
 */
export class RetryLaterError extends Error {
	override name = "RetryLaterError";
	constructor(
		message: string,
		readonly retryAfterSeconds: number,
	) {
		super(message);
	}
}

/** How long to wait before attempt n+1: exponential from `baseSeconds`, capped, with jitter. */
export type Backoff = {
	/** Delay after the first failed attempt (before jitter). @defaultValue 2 */
	baseSeconds: number;
	/** Upper bound of any delay. @defaultValue 3600 */
	maxSeconds: number;
};

/** What a handler gets besides its input. @public (for task authors) */
export type TaskContext = {
	/** The task's id (stable across attempts: use it as an idempotency key for side effects). */
	id: string;
	/** 1 for the first attempt, 2 for the first retry, … */
	attempt: number;
	maxAttempts: number;
	/** Fires when the attempt runs past the type's `timeoutSeconds`. Pass it to fetch() etc. */
	signal: AbortSignal;
	/**
	 * The Worker's own env, with every binding of the Worker (typed as `Cloudflare.Env`, which
	 * `wrangler types` generates for your Worker).
	 */
	env: Cloudflare.Env;
	/**
	 * Reports progress: a number 0..100 or a small JSON object (≤ 4 KB). Cheap to call often:
	 * writes are coalesced to about one per second, and the last value is kept with the outcome.
	 */
	progress: (value: Progress) => void;
};

export type TaskDefinition<
	Input extends z.ZodType = z.ZodType,
	Result extends JsonValue | void = JsonValue | void,
	Type extends string = string,
> = {
	/** The name clients submit as `type` (kept as a literal type, so `tf.submit` knows every name). */
	type: Type;
	description: string;
	/** Validates the payload at submit time (errors under `payload.*`) and again before each run. */
	input: Input;
	/** Attempts before the task is failed. @defaultValue 3 */
	maxAttempts: number;
	/** An attempt running longer fails with `TimeoutError`. @defaultValue 30 */
	timeoutSeconds: number;
	/**
	 * How many attempts of this type one consumer isolate runs at once (a batch's other messages of
	 * the type are handed back to their objects, which re-send them when a slot should be free; they
	 * spend no attempt and their timeout has not started). Set 1 for CPU-bound work: handlers share
	 * one thread and one invocation's CPU limit. @defaultValue unlimited (the whole batch at once)
	 */
	batchConcurrency: number;
	/**
	 * Flow control (see the README's "Flow control"): at most this many attempts of the type run at
	 * once across all consumers. @defaultValue none
	 */
	concurrency?: number;
	/** At most `limit` attempts of the type start per `periodSeconds`, evenly spaced. @defaultValue none */
	rateLimit?: RateLimit;
	/** Like `concurrency`, for each `concurrencyKey` (given at submit) on its own. @defaultValue none */
	keyConcurrency?: number;
	/** Like `rateLimit`, for each `concurrencyKey` on its own. @defaultValue none */
	keyRateLimit?: RateLimit;
	backoff: Backoff;
	/**
	 * Checks at submit that need the Worker's configuration (after `input` passed), e.g. a URL
	 * against an allow-list: problems with paths inside the payload (`url`), answered as a 422.
	 */
	check?: (input: z.output<Input>, env: InternalEnv) => FieldError[];
	run(input: z.output<Input>, ctx: TaskContext): Promise<Result> | Result;
};

type TaskOptions<Input extends z.ZodType, Result extends JsonValue | void, Type extends string> = Omit<
	TaskDefinition<Input, Result, Type>,
	"maxAttempts" | "timeoutSeconds" | "batchConcurrency" | "backoff"
> &
	Partial<Pick<TaskDefinition<Input, Result, Type>, "maxAttempts" | "timeoutSeconds" | "batchConcurrency">> & {
		backoff?: Partial<Backoff>;
	};

/**
 * Declares a task type.
 * @example
 * export const greet = defineTask({
 *   type: "greet",
 *   description: "Says hello.",
 *   input: z.object({ name: z.string() }),
 *   run: ({ name }) => ({ greeting: `Hello, ${name}!` }),
 * });
 */
export function defineTask<Input extends z.ZodType, Result extends JsonValue | void, const Type extends string>(
	options: TaskOptions<Input, Result, Type>,
): TaskDefinition<Input, Result, Type> {
	const batchConcurrency = options.batchConcurrency ?? Number.POSITIVE_INFINITY;
	if (!(batchConcurrency >= 1 && (Number.isInteger(batchConcurrency) || batchConcurrency === Number.POSITIVE_INFINITY))) {
		throw new RangeError(`defineTask("${options.type}"): batchConcurrency must be a whole number >= 1.`);
	}
	for (const field of ["concurrency", "keyConcurrency"] as const) {
		const value = options[field];
		if (value !== undefined && !(Number.isInteger(value) && value >= 1 && value <= MAX_LIMIT)) {
			throw new RangeError(`defineTask("${options.type}"): ${field} must be a whole number from 1 to ${MAX_LIMIT}.`);
		}
	}
	for (const field of ["rateLimit", "keyRateLimit"] as const) {
		const value = options[field];
		if (value !== undefined && !RateLimit.safeParse(value).success) {
			throw new RangeError(`defineTask("${options.type}"): ${field} needs a whole limit (1..${MAX_LIMIT}) and periodSeconds (1..86400).`);
		}
	}
	return {
		...options,
		maxAttempts: options.maxAttempts ?? 3,
		timeoutSeconds: options.timeoutSeconds ?? 30,
		batchConcurrency,
		backoff: { baseSeconds: 2, maxSeconds: 3600, ...options.backoff },
	};
}

/** The JSON Schema of what clients send as the type's payload (GET /v1/task-types, the OpenAPI document). */
export function inputJsonSchema(definition: TaskDefinition) {
	return z.toJSONSchema(definition.input, { io: "input", unrepresentable: "any" });
}

/** Seconds to wait after failed attempt number `attempt` (1-based): "equal jitter" in [d/2, d]. */
export function backoffSeconds(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
	const ceiling = Math.min(backoff.maxSeconds, backoff.baseSeconds * 2 ** (attempt - 1));
	return Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}
