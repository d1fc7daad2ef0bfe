// Turning a validated submit envelope into a recorded, enqueued task. Shared by every route that
// creates tasks, so they validate and record tasks identically.
import type { CreateTaskInput } from "./durable/task-object";
import { newTaskStub } from "./durable/task-stub";
import { ProblemError, validationProblem } from "./errors";
import type { SubmitTaskBody, TaskMessage } from "./schemas";
import { taskTypes } from "./tasks/registry";

/**
 * Checks the type exists and the payload matches its schema; errors carry paths under `prefix`
 * (`type`, `payload.ms`, or `tasks.3.payload.ms` in a batch). The stored payload is the one sent.
 */
export function prepareTask(body: SubmitTaskBody, prefix: readonly PropertyKey[] = []): CreateTaskInput {
	const definition = taskTypes.get(body.type);
	if (!definition) {
		const known = [...taskTypes.keys()].join(", ");
		throw new ProblemError("validation-failed", "The request did not pass validation; see errors.", {
			errors: [{ path: [...prefix, "type"].join("."), message: `Unknown task type "${body.type}". Known types: ${known}.` }],
		});
	}
	const payload = body.payload ?? {};
	const checked = definition.input.safeParse(payload);
	if (!checked.success) throw validationProblem(checked.error, [...prefix, "payload"]);
	return {
		type: definition.type,
		payloadJson: JSON.stringify(payload),
		maxAttempts: body.maxAttempts ?? definition.maxAttempts,
		timeoutSeconds: definition.timeoutSeconds,
		delaySeconds: body.delaySeconds ?? 0,
	};
}

/**
 * Records the task in its own Durable Object, then sends its id to the queue. Answers only after
 * the record is durable; if the send fails the task is not lost: its object's alarm re-sends it.
 */
export async function submitTask(env: Env, input: CreateTaskInput): Promise<{ id: string; recordJson: string }> {
	const { id, stub } = newTaskStub(env);
	const { recordJson, enqueueDelaySeconds } = await stub.create(input);
	if (enqueueDelaySeconds !== null) {
		const message: TaskMessage = { id };
		try {
			await env.TASK_QUEUE.send(message, { delaySeconds: enqueueDelaySeconds });
		} catch {
			console.error("taskflare: Queue.send failed; the task's alarm will re-send it");
		}
	}
	return { id, recordJson };
}
