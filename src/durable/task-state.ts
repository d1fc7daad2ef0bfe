// The task state machine. TaskObject.transition() is the only writer of a task's status and
// checks every change against this table, so illegal transitions are refused in one place.
import type { TaskStatus } from "../schemas";

const ALLOWED: Record<TaskStatus, readonly TaskStatus[]> = {
	// "failed" from queued/retrying: dead-lettered by Queues, or an unknown task type.
	queued: ["running", "cancelled", "failed"],
	// "retrying" also when the attempt's lease ran out; "failed" when dead-lettered.
	running: ["succeeded", "failed", "retrying"],
	retrying: ["running", "cancelled", "failed"],
	succeeded: [],
	// "queued" by a retry (POST /v1/tasks/{id}/retry): same id, a fresh budget of attempts.
	failed: ["queued"],
	cancelled: ["queued"],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
	return ALLOWED[from].includes(to);
}

export class IllegalTransitionError extends Error {
	override name = "IllegalTransitionError";
	constructor(from: TaskStatus, to: TaskStatus) {
		super(`illegal task transition ${from} → ${to}`);
	}
}
