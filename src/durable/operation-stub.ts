// The one place that turns bulk operation ids into Durable Object stubs. An operation id is its
// object's id (`newUniqueId()`, 64 hex digits), like a task id.
import type { InternalEnv } from "../environment";
import { ProblemError } from "../errors";
import type { OperationObject } from "./operation-object";

const OPERATION_ID = /^[0-9a-f]{64}$/;

export function newOperationStub(env: InternalEnv): { id: string; stub: DurableObjectStub<OperationObject> } {
	const objectId = env.OPERATION_OBJECT.newUniqueId();
	return { id: objectId.toString(), stub: env.OPERATION_OBJECT.get(objectId) };
}

/**
 * The operation of an Idempotency-Key: its object is named by the key, so every request with the
 * key reaches the same operation (which compares the requests, see OperationObject.begin). The key
 * is bound to it while the operation is kept; after its retention the key starts a new one.
 */
export function keyedOperationStub(env: InternalEnv, key: string): { id: string; stub: DurableObjectStub<OperationObject> } {
	const objectId = env.OPERATION_OBJECT.idFromName(`idempotency-key:${key}`);
	return { id: objectId.toString(), stub: env.OPERATION_OBJECT.get(objectId) };
}

/** The operation's stub; a malformed or foreign id is a 404 like an unknown one. */
export function getOperationStub(env: InternalEnv, id: string): DurableObjectStub<OperationObject> {
	if (OPERATION_ID.test(id)) {
		try {
			return env.OPERATION_OBJECT.get(env.OPERATION_OBJECT.idFromString(id));
		} catch {
			// A well-formed id of another namespace: fall through to 404.
		}
	}
	throw operationNotFound(id);
}

export const operationNotFound = (id: string) => new ProblemError("not-found", `No operation with id "${id}".`);
