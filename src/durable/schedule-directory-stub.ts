// The one place the schedule directory's stub is made: a single object for the whole Worker.
import type { ScheduleDirectory } from "./schedule-directory";

// Return types are written out so the package's .d.ts name the library's class, not the subclass
// that this repository's Worker exports and its generated `Env` names.
export function scheduleDirectoryStub(env: Env): DurableObjectStub<ScheduleDirectory> {
	return env.SCHEDULE_DIRECTORY.getByName("directory");
}
