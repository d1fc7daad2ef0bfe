// The one place schedule ids become stubs: each schedule's own object is named by its id.
import type { InternalEnv } from "../environment";
import { ProblemError } from "../errors";
import { SCHEDULE_ID } from "../schedule-schemas";
import type { ScheduleObject } from "./schedule-object";

/** The schedule's object, or null when `id` cannot be a schedule id. */
function findScheduleStub(env: InternalEnv, id: string): DurableObjectStub<ScheduleObject> | null {
	if (!SCHEDULE_ID.test(id)) return null;
	return env.SCHEDULE_OBJECT.getByName(id);
}

/** Like findScheduleStub, for routes: a malformed id is a 404 like an unknown one. */
export function getScheduleStub(env: InternalEnv, id: string): DurableObjectStub<ScheduleObject> {
	const stub = findScheduleStub(env, id);
	if (!stub) throw scheduleNotFound(id);
	return stub;
}

export const scheduleNotFound = (id: string) => new ProblemError("not-found", `No schedule with id "${id}".`);
