// What an attempt of a task type must acquire before it starts: the limits declared in its
// defineTask with the type's override (PUT /v1/limits/{type}) applied. Worked out by the consumer
// for every message (it passes them to TaskObject.start, which asks the limiters).
//
// The override lives in the type's limiter object. Each isolate keeps the overrides it has read (per
// limiter namespace, so two taskflare instances in one Worker never share them) for LIMITS_REFRESH_MS and refreshes them in the background after that, so a type without limits
// costs no Durable Object call per task: one read when an isolate meets the type for the first
// time, then at most one per LIMITS_REFRESH_MS while its tasks keep coming. The isolate that
// serves a PUT or DELETE knows the change at once, and the limiters it concerns are told directly
// (see routes/limits.ts); other isolates follow within LIMITS_REFRESH_MS.
import type { InternalEnv } from "./environment";
import type { AttemptLimits, LimitSpec } from "./durable/limiter-object";
import { typeLimiterStub } from "./durable/limiter-stub";
import { ProblemError } from "./errors";
import { effectiveLimits, type LimitInfo, type LimitsOverride, type TaskLimits } from "./limit-schemas";
import type { TaskDefinition } from "./tasks/define-task";

/** How long an isolate uses an override it read before reading it again (in the background). */
const LIMITS_REFRESH_MS = 10_000;
/** A read that has not settled after this long no longer holds back a new one. */
const READ_TIMEOUT_MS = 10_000;

type CachedOverride = { override: LimitsOverride | null; version: number; readAt: number };

type Read = { promise: Promise<CachedOverride>; startedAt: number };
type Overrides = { cache: Map<string, CachedOverride>; reading: Map<string, Read> };

const byNamespace = new WeakMap<object, Overrides>();
/** Reads under way in this isolate, whatever their namespace (see limitReads). */
const underWay = new Set<Promise<CachedOverride>>();

/** The overrides this isolate knows for the limiters of `env`. */
function overridesOf(env: InternalEnv): Overrides {
	let overrides = byNamespace.get(env.LIMITER_OBJECT);
	if (!overrides) {
		overrides = { cache: new Map(), reading: new Map() };
		byNamespace.set(env.LIMITER_OBJECT, overrides);
	}
	return overrides;
}

/** The limits a type declares in its defineTask (null where none). */
export function codeLimits(definition: TaskDefinition): TaskLimits {
	return {
		concurrency: definition.concurrency ?? null,
		rateLimit: definition.rateLimit ?? null,
		keyConcurrency: definition.keyConcurrency ?? null,
		keyRateLimit: definition.keyRateLimit ?? null,
	};
}

/**
 * The limits of the type's attempts, or null when it has none (its tasks then never call a
 * limiter). A value, not a promise, whenever the type's override is cached: the common path
 * neither calls nor awaits anything.
 */
export function attemptLimits(env: InternalEnv, definition: TaskDefinition): AttemptLimits | null | Promise<AttemptLimits | null> {
	const cached = overridesOf(env).cache.get(definition.type);
	if (!cached) {
		// Unreadable (its limiter out of reach): the code's limits, not cached, so the next task asks
		// again. Tasks of a type without limits keep running; a limiter that stores newer limits
		// keeps them (it ignores the older version).
		return readOverride(env, definition.type).then(
			(read) => limitsOf(definition, read),
			() => limitsOf(definition, { override: null, version: 0, readAt: 0 }),
		);
	}
	if (Date.now() - cached.readAt > LIMITS_REFRESH_MS) {
		// Refreshed in the background; a failed read keeps the cached override until the next try.
		readOverride(env, definition.type).catch(() => {});
	}
	return limitsOf(definition, cached);
}

/** Reads that are still under way (the consumer awaits them before its invocation ends). */
export function limitReads(): Promise<unknown> {
	return Promise.allSettled([...underWay]);
}

/** Records an override this isolate has just written (PUT or DELETE /v1/limits/{type}). */
export function rememberOverride(env: InternalEnv, type: string, override: LimitsOverride | null, version: number): void {
	const { cache } = overridesOf(env);
	const cached = cache.get(type);
	if (!cached || cached.version <= version) cache.set(type, { override, version, readAt: Date.now() });
}

/** Splits a type's limits into what its own limiter and what a key's limiter enforce. */
export function limiterSpecs(limits: TaskLimits): { type: LimitSpec | null; key: LimitSpec | null } {
	const type =
		limits.concurrency === null && limits.rateLimit === null ? null : { concurrency: limits.concurrency, rateLimit: limits.rateLimit };
	const key =
		limits.keyConcurrency === null && limits.keyRateLimit === null
			? null
			: { concurrency: limits.keyConcurrency, rateLimit: limits.keyRateLimit };
	return { type, key };
}

function limitsOf(definition: TaskDefinition, cached: CachedOverride): AttemptLimits | null {
	const specs = limiterSpecs(effectiveLimits(codeLimits(definition), cached.override));
	return specs.type === null && specs.key === null ? null : { version: cached.version, ...specs };
}

function readOverride(env: InternalEnv, type: string): Promise<CachedOverride> {
	const now = Date.now();
	const { cache, reading } = overridesOf(env);
	const pending = reading.get(type);
	if (pending && now - pending.startedAt < READ_TIMEOUT_MS) return pending.promise;
	// An async function, so that any failure (even one thrown before the call) is a rejection.
	const read = async (): Promise<CachedOverride> => {
		const { override, version } = await typeLimiterStub(env, type).readOverride();
		rememberOverride(env, type, override, version);
		return cache.get(type) ?? { override, version, readAt: Date.now() };
	};
	const promise = read().finally(() => {
		underWay.delete(promise);
		if (reading.get(type)?.promise === promise) reading.delete(type);
	});
	reading.set(type, { promise, startedAt: now });
	underWay.add(promise);
	return promise;
}

/**
 * A type's limits (the code's, the override, what is in effect) and its usage, from its limiter:
 * what GET /v1/limits and the dashboard's limits page show.
 */
export async function describeLimits(env: InternalEnv, definition: TaskDefinition): Promise<LimitInfo> {
	let described;
	try {
		described = await typeLimiterStub(env, definition.type).describe();
	} catch {
		throw new ProblemError("unavailable", "A limiter could not be reached; retry.", { headers: { "Retry-After": "1" } });
	}
	const code = codeLimits(definition);
	return {
		type: definition.type,
		limits: effectiveLimits(code, described.override),
		code,
		override: described.override,
		usage: described.usage,
		keys: described.keys,
	};
}
