// The one place limiter names become stubs. A task type's own limits (concurrency, rateLimit) have
// one limiter object, `type:<type>`; its per-key limits have one per key, `key:["<type>","<key>"]`
// (JSON, so no type or key can make two names collide).
import type { InternalEnv } from "../environment";
import { z } from "zod";
import type { LimiterObject } from "./limiter-object";

// Return types are written out so the package's .d.ts name the library's class, not the subclass
// that this repository's Worker exports and its generated `Env` names.

/** Which limits a limiter object enforces: a type's own, or one key's of a type. */
export type LimiterScope = z.infer<typeof LimiterScope>;
export const LimiterScope = z.discriminatedUnion("scope", [
	z.object({ scope: z.literal("type"), type: z.string() }),
	z.object({ scope: z.literal("key"), type: z.string(), key: z.string() }),
]);

export function limiterName(limiter: LimiterScope): string {
	return limiter.scope === "type" ? `type:${limiter.type}` : `key:${JSON.stringify([limiter.type, limiter.key])}`;
}

/** The limiter object of a name made by limiterName (a task keeps the names of the limiters it holds). */
export function limiterStub(env: InternalEnv, name: string): DurableObjectStub<LimiterObject> {
	return env.LIMITER_OBJECT.getByName(name);
}

/** The limiter of a type's own limits, which also keeps the type's override and its keys' usage. */
export function typeLimiterStub(env: InternalEnv, type: string): DurableObjectStub<LimiterObject> {
	return limiterStub(env, limiterName({ scope: "type", type }));
}
