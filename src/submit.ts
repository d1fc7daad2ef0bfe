// Turning validated submit envelopes into recorded, enqueued tasks. Shared by every route that
// creates tasks, so they validate and record tasks identically.
import type { CreateTaskInput } from "./durable/task-object";
import { keyedTaskStub, newTaskStub } from "./durable/task-stub";
import { type FieldError, ProblemError, validationProblem } from "./errors";
import { MAX_BODY_BYTES, type SubmitTaskBody, type TaskMessage } from "./schemas";
import { taskTypes } from "./tasks/registry";

const invalid = (errors: FieldError[]) =>
	new ProblemError("validation-failed", "The request did not pass validation; see errors.", { errors });

/**
 * Checks the type exists and the payload matches its schema; errors carry paths under `prefix`
 * (`type`, `payload.ms`, or `tasks.3.payload.ms` in a batch). The stored payload is the one sent.
 */
export function prepareTask(body: SubmitTaskBody, prefix: readonly PropertyKey[] = []): CreateTaskInput {
	const at = (...path: PropertyKey[]) => [...prefix, ...path].join(".");
	const definition = taskTypes.get(body.type);
	if (!definition) {
		const known = [...taskTypes.keys()].join(", ");
		throw invalid([{ path: at("type"), message: `Unknown task type "${body.type}". Known types: ${known}.` }]);
	}
	// Only a missing payload defaults to {}; an explicit null is checked like any other value.
	const payload = body.payload === undefined ? {} : body.payload;
	let checked: ReturnType<typeof definition.input.safeParse>;
	try {
		checked = definition.input.safeParse(payload);
	} catch {
		// A recursive schema can overflow the stack on absurdly nested JSON: bad input, not a 500.
		throw invalid([{ path: at("payload"), message: "The payload could not be validated (nested too deeply)." }]);
	}
	if (!checked.success) throw validationProblem(checked.error, [...prefix, "payload"]);
	const payloadJson = JSON.stringify(payload);
	// Only a long string can be over the limit; count bytes exactly only then.
	if (payloadJson.length * 3 > MAX_BODY_BYTES && new TextEncoder().encode(payloadJson).byteLength > MAX_BODY_BYTES) {
		throw invalid([{ path: at("payload"), message: `A payload is limited to ${MAX_BODY_BYTES} bytes (1 MiB) of JSON.` }]);
	}
	return {
		type: definition.type,
		payloadJson,
		maxAttempts: body.maxAttempts ?? definition.maxAttempts,
		timeoutSeconds: definition.timeoutSeconds,
		delaySeconds: body.delaySeconds ?? 0,
	};
}

/** prepareTask for every item, all or nothing: one 422 listing the errors of every bad item. */
export function prepareTasks(bodies: SubmitTaskBody[], prefix: readonly PropertyKey[]): CreateTaskInput[] {
	const errors: FieldError[] = [];
	const inputs = bodies.flatMap((body, i) => {
		try {
			return [prepareTask(body, [...prefix, i])];
		} catch (error) {
			if (!(error instanceof ProblemError) || !error.errors) throw error;
			errors.push(...error.errors);
			return [];
		}
	});
	if (errors.length > 0) throw invalid(errors);
	return inputs;
}

export type Submitted = { id: string; recordJson: string; replayed: boolean };

/**
 * Records the task in its own Durable Object, then sends its id to the queue. Answers only after
 * the record is durable; if the send fails the task is not lost: its object's alarm re-sends it.
 * With an Idempotency-Key the object is named by the key, so a repeat finds the first task.
 */
export async function submitTask(env: Env, input: CreateTaskInput, idempotencyKey?: string): Promise<Submitted> {
	const { stub } = idempotencyKey === undefined ? newTaskStub(env) : keyedTaskStub(env, idempotencyKey);
	const created = await stub.create(input);
	if (created.kind === "key-conflict") {
		throw new ProblemError("validation-failed", "This Idempotency-Key was already used with a different request body.", {
			errors: [{ path: "Idempotency-Key", message: "Reused with a different body." }],
		});
	}
	if (created.kind === "created" && created.enqueueDelaySeconds !== null) {
		await sendOrLeaveToAlarm(env, [{ body: { id: created.id }, delaySeconds: created.enqueueDelaySeconds }]);
	}
	return { id: created.id, recordJson: created.recordJson, replayed: created.kind === "replayed" };
}

/** Records up to 100 tasks concurrently, then enqueues them with one `sendBatch`. */
export async function submitTasks(env: Env, inputs: CreateTaskInput[]): Promise<string[]> {
	const created = await Promise.all(inputs.map((input) => newTaskStub(env).stub.create(input)));
	const messages: MessageSendRequest<TaskMessage>[] = [];
	const records = created.map((result) => {
		if (result.kind === "key-conflict") throw new Error("a new task object reported a key conflict");
		if (result.kind === "created" && result.enqueueDelaySeconds !== null) {
			messages.push({ body: { id: result.id }, delaySeconds: result.enqueueDelaySeconds });
		}
		return result.recordJson;
	});
	if (messages.length > 0) await sendOrLeaveToAlarm(env, messages);
	return records;
}

async function sendOrLeaveToAlarm(env: Env, messages: MessageSendRequest<TaskMessage>[]): Promise<void> {
	try {
		await (messages.length === 1 && messages[0]
			? env.TASK_QUEUE.send(messages[0].body, { delaySeconds: messages[0].delaySeconds })
			: env.TASK_QUEUE.sendBatch(messages));
	} catch {
		console.error("taskflare: sending to the queue failed; the tasks' alarms will re-send them");
	}
}
