// The one place an Idempotency-Key becomes the stub of its key record's Durable Object.
import type { InternalEnv } from "../environment";
import type { IdempotencyKeyObject } from "./idempotency-key-object";

/** The key record of `key`: named by the key, so every request with it reaches the same object. */
export function idempotencyKeyStub(env: InternalEnv, key: string): DurableObjectStub<IdempotencyKeyObject> {
	return env.IDEMPOTENCY_KEY_OBJECT.getByName(key);
}
