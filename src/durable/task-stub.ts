// The one place that turns task ids into Durable Object stubs. A task id is its object's id
// (`newUniqueId()`, 64 hex digits): unique ids need no global name lookup on first use, and are
// never reused (an Idempotency-Key names its tasks through a key record, not through their ids).
import type { InternalEnv } from "../environment";
import { ProblemError } from "../errors";
import type { TaskObject } from "./task-object";

const TASK_ID = /^[0-9a-f]{64}$/;

export function newTaskStub(env: InternalEnv): { id: string; stub: DurableObjectStub<TaskObject> } {
	return newTaskStubWhere(env, () => true);
}

/** Ids drawn at most by newTaskStubWhere (then any id is taken): ≈ 0.5 ms at a few µs per draw. */
const MAX_DRAWS = 256;

/**
 * A new task whose id passes `wanted` (e.g. hashes to a chosen task index shard). Ids are random,
 * so they are drawn until one does (a few microseconds each); after MAX_DRAWS, the last one is taken.
 */
export function newTaskStubWhere(env: InternalEnv, wanted: (id: string) => boolean): { id: string; stub: DurableObjectStub<TaskObject> } {
	let objectId = env.TASK_OBJECT.newUniqueId();
	for (let draws = 1; draws < MAX_DRAWS && !wanted(objectId.toString()); draws++) objectId = env.TASK_OBJECT.newUniqueId();
	return { id: objectId.toString(), stub: env.TASK_OBJECT.get(objectId) };
}

/** The task's stub, or null when `id` cannot be a task id of this namespace. */
export function findTaskStub(env: InternalEnv, id: string): DurableObjectStub<TaskObject> | null {
	if (!TASK_ID.test(id)) return null;
	try {
		return env.TASK_OBJECT.get(env.TASK_OBJECT.idFromString(id));
	} catch {
		// A well-formed id of another namespace.
		return null;
	}
}

/** Like findTaskStub, for routes: a malformed id is a 404 like an unknown one. */
export function getTaskStub(env: InternalEnv, id: string): DurableObjectStub<TaskObject> {
	const stub = findTaskStub(env, id);
	if (!stub) throw taskNotFound(id);
	return stub;
}

export const taskNotFound = (id: string) => new ProblemError("not-found", `No task with id "${id}".`);
