// The one place schedule ids become stubs: each schedule's own object is named by its id.
import { ProblemError } from "../errors";
import { SCHEDULE_ID } from "../schedule-schemas";

/** The schedule's object, or null when `id` cannot be a schedule id. */
function findScheduleStub(env: Env, id: string) {
	if (!SCHEDULE_ID.test(id)) return null;
	return env.SCHEDULE_OBJECT.getByName(id);
}

/** Like findScheduleStub, for routes: a malformed id is a 404 like an unknown one. */
export function getScheduleStub(env: Env, id: string) {
	const stub = findScheduleStub(env, id);
	if (!stub) throw scheduleNotFound(id);
	return stub;
}

export const scheduleNotFound = (id: string) => new ProblemError("not-found", `No schedule with id "${id}".`);
