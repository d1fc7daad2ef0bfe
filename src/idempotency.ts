// Idempotency-Key requests: what a key compares (a fingerprint of the request's meaning) and the
// answer when a key is reused for another request. The key's record lives in its own Durable
// Object (durable/idempotency-key-object.ts); submit.ts creates the tasks it names.
import type { CreateTaskInput } from "./durable/task-object";
import { ProblemError } from "./errors";
import { toHex } from "./hex";
import type { JsonValue } from "./schemas";

/** A request carrying an Idempotency-Key, with the fingerprint its key is bound to. */
export type IdempotentRequest = { key: string; fingerprint: string };

/**
 * What a submit body means once defaults are applied (`input`: the body as prepareTask prepared it;
 * `payload`: the body's payload as sent): an omitted `maxAttempts` equals the type's default
 * spelled out, an omitted `delaySeconds` equals 0, an omitted payload equals {}.
 */
export function submitMeaning(input: CreateTaskInput, payload: JsonValue | undefined): JsonValue {
	return {
		type: input.type,
		payload: payload === undefined ? {} : payload,
		delaySeconds: input.delaySeconds,
		maxAttempts: input.maxAttempts,
		// Only when given, so the meaning of an untagged request is what it was before tags existed.
		...(input.tags === undefined ? {} : { tags: input.tags }),
		...(input.callback === undefined ? {} : { callback: input.callback }),
		...(input.priority === undefined ? {} : { priority: input.priority }),
		...(input.concurrencyKey === undefined ? {} : { concurrencyKey: input.concurrencyKey }),
	};
}

/**
 * The SHA-256 of the route and the request's meaning as canonical JSON (object keys sorted at
 * every depth), so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same request. The route is part of
 * it: one key used on two routes is two different requests (a 422).
 */
export async function requestFingerprint(route: string, meaning: JsonValue): Promise<string> {
	let canonical: string;
	try {
		canonical = JSON.stringify([route, meaning], sortKeys);
	} catch {
		// Only absurdly nested JSON can overflow the stack here: bad input, not a 500.
		throw new ProblemError("validation-failed", "The request could not be compared for its Idempotency-Key.", {
			errors: [{ path: "Idempotency-Key", message: "The body is nested too deeply to be compared." }],
		});
	}
	return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)));
}

/** A JSON.stringify replacer that writes every object's keys in sorted order. */
function sortKeys(_key: string, value: unknown): unknown {
	if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
	// Object.fromEntries defines own properties, so even a "__proto__" key stays a plain key.
	return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export const keyConflict = () =>
	new ProblemError("validation-failed", "This Idempotency-Key was already used with a different request.", {
		errors: [{ path: "Idempotency-Key", message: "Reused with a different body (or on another route)." }],
	});
