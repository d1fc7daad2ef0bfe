// The wire shapes of flow control (concurrency and rate limits per task type and per key,
// priorities): the limits a type declares, an override set over the API, what GET /v1/limits
// shows, and why a waiting task waits. The limiter's logic is in durable/limiter-object.ts, how a
// task's limits are worked out in limits.ts.
import { z } from "@hono/zod-openapi";

/** Highest concurrency, and most starts per period, a limit may allow. */
export const MAX_LIMIT = 10_000;
/** Longest rate limit period: a day. */
const MAX_PERIOD_SECONDS = 86_400;
/** Priorities a submit may give; higher is admitted first (where tasks wait for the same limit). */
const MIN_PRIORITY = 0;
const MAX_PRIORITY = 9;
export const DEFAULT_PRIORITY = 5;

/** At most `limit` attempts start per `periodSeconds`, evenly spaced (one every period / limit). */
export type RateLimit = z.infer<typeof RateLimit>;
export const RateLimit = z
	.strictObject({
		limit: z.int().min(1).max(MAX_LIMIT),
		periodSeconds: z.int().min(1).max(MAX_PERIOD_SECONDS),
	})
	.openapi("RateLimit", {
		description: "At most `limit` attempts start per `periodSeconds`, evenly spaced: one every periodSeconds / limit.",
		example: { limit: 5, periodSeconds: 1 },
	});

const Concurrency = z.int().min(1).max(MAX_LIMIT);

/** A type's limits; null: no such limit. */
export type TaskLimits = z.infer<typeof TaskLimits>;
export const TaskLimits = z
	.object({
		concurrency: Concurrency.nullable().openapi({ description: "Attempts of the type running at once, across all consumers." }),
		rateLimit: RateLimit.nullable(),
		keyConcurrency: Concurrency.nullable().openapi({ description: "Attempts running at once per concurrencyKey." }),
		keyRateLimit: RateLimit.nullable().openapi({ description: "Rate limit per concurrencyKey." }),
	})
	.openapi("TaskLimits", { description: "A task type's limits; null where it has none." });

/**
 * The body of PUT /v1/limits/{type}: each field given replaces the code's value (null removes that
 * limit); a field left out keeps the code's value. It replaces any earlier override as a whole.
 */
export type LimitsOverride = z.infer<typeof LimitsOverride>;
export const LimitsOverride = z
	.strictObject({
		concurrency: Concurrency.nullable().optional(),
		rateLimit: RateLimit.nullable().optional(),
		keyConcurrency: Concurrency.nullable().optional(),
		keyRateLimit: RateLimit.nullable().optional(),
	})
	.refine((body) => Object.values(body).some((value) => value !== undefined), "Give at least one limit (null removes one).")
	.openapi("LimitsOverride", {
		description: "Replaces the code's value of each field given (null: no such limit); fields left out keep the code's value.",
		example: { concurrency: 2, rateLimit: { limit: 10, periodSeconds: 1 } },
	});

/** What the code's and the override's limits add up to: the override wins field by field. */
export function effectiveLimits(code: TaskLimits, override: LimitsOverride | null): TaskLimits {
	if (!override) return code;
	return {
		concurrency: override.concurrency === undefined ? code.concurrency : override.concurrency,
		rateLimit: override.rateLimit === undefined ? code.rateLimit : override.rateLimit,
		keyConcurrency: override.keyConcurrency === undefined ? code.keyConcurrency : override.keyConcurrency,
		keyRateLimit: override.keyRateLimit === undefined ? code.keyRateLimit : override.keyRateLimit,
	};
}

/** Why a queued (or retrying) task has not started: the limit it waits for. */
export type WaitReason = z.infer<typeof WaitReason>;
export const WaitReason = z.enum(["concurrency", "rate", "key-concurrency", "key-rate"]).openapi("WaitReason", {
	description:
		"The limit a task waits for: its type's `concurrency` or `rate` limit, or its concurrencyKey's " +
		"(`key-concurrency`, `key-rate`). It starts when its limiter admits it.",
});

/** 1..128 visible characters (no spaces or control characters), e.g. a customer id. */
export const ConcurrencyKey = z
	.string()
	.regex(/^[^\p{C}\p{Z}]{1,128}$/u, "Must be 1 to 128 visible characters (no spaces or control characters).")
	.openapi({
		description: "Limits the type declares per key (keyConcurrency, keyRateLimit) apply to each key on its own, e.g. a customer id.",
		example: "customer:42",
	});

export const Priority = z
	.int()
	.min(MIN_PRIORITY)
	.max(MAX_PRIORITY)
	.openapi({
		description:
			`${MIN_PRIORITY}..${MAX_PRIORITY}, default ${DEFAULT_PRIORITY}. Where tasks wait for the same limit, a higher priority is ` +
			"admitted first (ahead of lower-priority tasks that became due up to 30 s per level earlier); it changes nothing without a limit.",
	});

/** Permits in use and tasks waiting at one limiter. */
export type LimiterUsage = z.infer<typeof LimiterUsage>;
export const LimiterUsage = z
	.object({
		running: z.int().min(0).openapi({ description: "Permits held: attempts running, or admitted and about to start." }),
		waiting: z.int().min(0).openapi({ description: "Tasks waiting for a permit." }),
		nextStartAt: z.iso
			.datetime()
			.nullable()
			.openapi({ description: "With a rate limit: the earliest time the next attempt may start (null: now)." }),
	})
	.openapi("LimiterUsage");

/** A key's usage, as its limiter last reported it. */
const KeyUsage = z.object({ key: z.string(), running: z.int().min(0), waiting: z.int().min(0) }).openapi("KeyUsage");

export type KeysUsage = z.infer<typeof KeysUsage>;
export const KeysUsage = z
	.object({
		active: z.int().min(0).openapi({ description: "Keys with permits held or tasks waiting." }),
		running: z.int().min(0),
		waiting: z.int().min(0),
		busiest: z.array(KeyUsage).openapi({ description: "Up to 10 keys with the most tasks running or waiting." }),
	})
	.openapi("KeysUsage", { description: "Summed over the keys, as their limiters reported it (at most ~2 s old)." });

export type LimitInfo = z.infer<typeof LimitInfo>;
export const LimitInfo = z
	.object({
		type: z.string(),
		limits: TaskLimits.openapi({ description: "In effect: the code's limits with the override applied." }),
		code: TaskLimits.openapi({ description: "As declared in defineTask." }),
		override: LimitsOverride.nullable().openapi({ description: "Set by PUT /v1/limits/{type}; null when there is none." }),
		usage: LimiterUsage.openapi({ description: "The type's own limits (concurrency, rateLimit)." }),
		keys: KeysUsage,
	})
	.openapi("LimitInfo");

export const LimitList = z.object({ limits: z.array(LimitInfo) }).openapi("LimitList");

export const LimitTypeParams = z.object({
	type: z.string().openapi({ param: { name: "type", in: "path" }, example: "limited-concurrency" }),
});
