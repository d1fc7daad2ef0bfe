// The one place the schedule directory's stub is made: a single object for the whole Worker.
export function scheduleDirectoryStub(env: Env) {
	return env.SCHEDULE_DIRECTORY.getByName("directory");
}
