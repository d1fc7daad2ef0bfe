// The one place the schedule directory's stub is made: a single object for the whole Worker.
import type { InternalEnv } from "../environment";
import type { ScheduleDirectory } from "./schedule-directory";

export function scheduleDirectoryStub(env: InternalEnv): DurableObjectStub<ScheduleDirectory> {
	return env.SCHEDULE_DIRECTORY.getByName("directory");
}
