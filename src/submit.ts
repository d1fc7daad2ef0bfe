// Turning validated submit envelopes into recorded, enqueued tasks. Shared by every route that
// creates tasks, so they validate and record tasks identically.
import { readConfig } from "./config";
import type { FireSubmit } from "./durable/schedule-object";
import type { IndexEntry } from "./durable/task-index";
import { indexNewTasks, indexShardStub, newIndexedTaskStubs, shardOf } from "./durable/task-index-stub";
import type { CreateTaskInput } from "./durable/task-object";
import { idempotencyKeyStub } from "./durable/idempotency-key-stub";
import { findTaskStub } from "./durable/task-stub";
import type { InternalEnv } from "./environment";
import { type FieldError, fieldErrors, ProblemError, validationProblem } from "./errors";
import { type IdempotentRequest, keyConflict } from "./idempotency";
import { outboundProblem } from "./outbound/send";
import { DEFAULT_PRIORITY } from "./limit-schemas";
import {
	bytesOver,
	MAX_BATCH_BODY_BYTES,
	MAX_BATCH_TASKS,
	MAX_BODY_BYTES,
	SubmitBatchEnvelope,
	SubmitTaskBody,
	type TaskMessage,
} from "./schemas";
import { sendOrLeaveToAlarm } from "./task-queue";
import type { TaskRegistry } from "./tasks/registry";

const invalid = (errors: FieldError[]) =>
	new ProblemError("validation-failed", "The request did not pass validation; see errors.", { errors });

/**
 * Checks the type exists and the payload matches its schema; errors carry paths under `prefix`
 * (`type`, `payload.ms`, or `tasks.3.payload.ms` in a batch). The stored payload is the one sent.
 * `env` answers what depends on the Worker's configuration: the type's own `check` and whether a
 * `callback.url` is allowed (HTTP_ALLOWED_HOSTS).
 */
export function prepareTask(
	taskTypes: TaskRegistry,
	env: InternalEnv,
	body: SubmitTaskBody,
	prefix: readonly PropertyKey[] = [],
): CreateTaskInput {
	const at = (...path: PropertyKey[]) => [...prefix, ...path].join(".");
	const definition = taskTypes.get(body.type);
	if (!definition) throw invalid([unknownType(taskTypes, body.type, at("type"))]);
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
	const problems = (definition.check?.(checked.data, env) ?? []).map((problem) => ({ ...problem, path: at("payload", problem.path) }));
	const callbackProblem = body.callback && outboundProblem(env, body.callback.url);
	if (callbackProblem) problems.push({ path: at("callback", "url"), message: callbackProblem });
	if (problems.length > 0) throw invalid(problems);
	const payloadJson = JSON.stringify(payload);
	if (bytesOver(payloadJson, MAX_BODY_BYTES) !== null) {
		throw invalid([{ path: at("payload"), message: `A payload is limited to ${MAX_BODY_BYTES} bytes (1 MiB) of JSON.` }]);
	}
	return {
		type: definition.type,
		payloadJson,
		maxAttempts: body.maxAttempts ?? definition.maxAttempts,
		timeoutSeconds: definition.timeoutSeconds,
		delaySeconds: body.delaySeconds ?? 0,
		...(body.tags && body.tags.length > 0 ? { tags: body.tags } : {}),
		...(body.callback ? { callback: { url: body.callback.url } } : {}),
		// The default is not stored: a submit that spells it out means the same as one that does not.
		...(body.priority === undefined || body.priority === DEFAULT_PRIORITY ? {} : { priority: body.priority }),
		...(body.concurrencyKey === undefined ? {} : { concurrencyKey: body.concurrencyKey }),
	};
}

/**
 * prepareTask for every item, all or nothing: one 422 listing the errors of every bad item.
 * Payloads are stored (and returned) as re-serialised JSON, which can be longer than the text
 * sent (`1E20` becomes `100000000000000000000`), so the stored bytes of the whole batch are
 * bounded by the batch body limit too; counting stops at the first item over it.
 */
export function prepareTasks(
	taskTypes: TaskRegistry,
	env: InternalEnv,
	bodies: SubmitTaskBody[],
	prefix: readonly PropertyKey[],
): CreateTaskInput[] {
	const errors: FieldError[] = [];
	let storedBytes = 0;
	const inputs = bodies.flatMap((body, i) => {
		let input: CreateTaskInput;
		try {
			input = prepareTask(taskTypes, env, body, [...prefix, i]);
		} catch (error) {
			if (!(error instanceof ProblemError) || !error.errors) throw error;
			errors.push(...error.errors);
			return [];
		}
		storedBytes += utf8Length(input.payloadJson);
		if (storedBytes > MAX_BATCH_BODY_BYTES) {
			const limit = `${MAX_BATCH_BODY_BYTES} bytes (${MAX_BATCH_BODY_BYTES / MAX_BODY_BYTES} MiB)`;
			throw invalid([
				{
					path: prefix.join("."),
					message:
						`The payloads would take more than ${limit} once stored (already ${storedBytes} bytes at item ${i}); ` +
						"numbers are stored in their shortest form (1E20 as 100000000000000000000). Split the batch.",
				},
			]);
		}
		return [input];
	});
	if (errors.length > 0) throw invalid(errors);
	return inputs;
}

/**
 * Every problem of a batch body that failed the route's schema: the envelope's, and each item's
 * (its fields, and its type even when another field of it is wrong), so one bad item never hides
 * another's problems.
 */
export function batchProblem(taskTypes: TaskRegistry, env: InternalEnv, body: unknown): ProblemError {
	const errors: FieldError[] = [];
	const envelope = SubmitBatchEnvelope.safeParse(body);
	if (!envelope.success) errors.push(...fieldErrors(envelope.error));
	const items = typeof body === "object" && body !== null && "tasks" in body ? body.tasks : undefined;
	if (Array.isArray(items) && items.length <= MAX_BATCH_TASKS) {
		items.forEach((item: unknown, i) => {
			const parsed = SubmitTaskBody.safeParse(item);
			if (parsed.success) {
				errors.push(...problemsOf(() => prepareTask(taskTypes, env, parsed.data, ["tasks", i])));
				return;
			}
			errors.push(...fieldErrors(parsed.error, ["tasks", i]));
			const type = typeof item === "object" && item !== null && "type" in item ? item.type : undefined;
			if (typeof type === "string" && type.length > 0 && !taskTypes.has(type)) errors.push(unknownType(taskTypes, type, `tasks.${i}.type`));
		});
	}
	return invalid(errors);
}

/** The one wording of an unknown `type`, naming the types there are. */
function unknownType(taskTypes: TaskRegistry, type: string, path: string): FieldError {
	return { path, message: `Unknown task type "${type}". Known types: ${[...taskTypes.keys()].join(", ")}.` };
}

function problemsOf(check: () => unknown): FieldError[] {
	try {
		check();
		return [];
	} catch (error) {
		if (error instanceof ProblemError && error.errors) return error.errors;
		throw error;
	}
}

/** Bytes of `text` in UTF-8, without encoding it. */
function utf8Length(text: string): number {
	let bytes = text.length;
	for (let i = 0; i < text.length; i++) {
		const code = text.charCodeAt(i);
		// 2 bytes up to U+07FF, 3 above; a surrogate pair (2 units, 4 bytes) counts 2 + 2. (JSON.stringify
		// escapes lone surrogates, so every surrogate here is half of a pair.)
		if (code >= 0xd800 && code <= 0xdfff) bytes += 1;
		else if (code >= 0x800) bytes += 2;
		else if (code >= 0x80) bytes += 1;
	}
	return bytes;
}

export type Submitted = { id: string; recordJson: string; replayed: boolean };

/** How schedules submit their fires (durable/schedule-object.ts), with these task types. */
export const fireSubmitter =
	(taskTypes: TaskRegistry): FireSubmit =>
	(env, body, fire, idempotency) =>
		submitTask(env, { ...prepareTask(taskTypes, env, body, ["task"]), ...fire }, idempotency);
export type SubmittedBatch = { ids: string[]; records: string[]; replayed: boolean };

/** submitTasks for one task. */
export async function submitTask(env: InternalEnv, input: CreateTaskInput, idempotency?: IdempotentRequest): Promise<Submitted> {
	const { ids, records, replayed } = await submitTasks(env, [input], idempotency);
	const [id, recordJson] = [ids[0], records[0]];
	if (id === undefined || recordJson === undefined) throw new Error("submitTasks answered no task");
	return { id, recordJson, replayed };
}

/**
 * Records up to 100 tasks, each in its own Durable Object (concurrently), then enqueues the new
 * ones with one send. Answers only after every record is durable; if the send fails the tasks are
 * not lost: their objects' alarms re-send them.
 *
 * With an Idempotency-Key the key's record (durable/idempotency-key-object.ts) names the task ids:
 * a repeat finds them (`replayed`) and creates none again, and a repeat of a request that failed
 * midway creates only the tasks that are missing.
 *
 * When an object call fails, the request answers 503 and:
 * - without a key, is all or nothing: the tasks it created are discarded first, so nothing of it
 *   runs and a retry creates no duplicates;
 * - with a key, keeps what it created (and sends it): a retry with the same key completes it.
 */
export async function submitTasks(env: InternalEnv, inputs: CreateTaskInput[], idempotency?: IdempotentRequest): Promise<SubmittedBatch> {
	const { slots, replayed } =
		idempotency === undefined
			? { slots: newIndexedTaskStubs(env, inputs.length).map((task) => ({ ...task, createBy: undefined })), replayed: false }
			: await claimTasks(env, inputs.length, idempotency);
	// Without a key every task is new: their first task index rows are written here while the
	// objects record the tasks (read-your-writes, without a second round trip after the first). With
	// a key a task may already exist, which only its object knows: there the object writes the row.
	const createdAt = idempotency === undefined ? Date.now() : undefined;
	const indexing: Promise<string[]> =
		createdAt === undefined
			? Promise.resolve([])
			: indexNewTasks(
					env,
					inputs.map((input, i) => newTaskEntry(slots[i]?.id ?? "", input, createdAt)),
				);
	const results = await Promise.allSettled(
		inputs.map((input, i) => {
			const slot = slots[i];
			if (!slot) throw new Error("fewer task ids than tasks");
			return slot.stub.create({ ...input, createBy: slot.createBy, createdAt });
		}),
	);
	const messages: MessageSendRequest<TaskMessage>[] = [];
	const records: string[] = [];
	let failed = false;
	for (const [i, result] of results.entries()) {
		if (result.status === "rejected" || result.value.kind === "expired") {
			failed = true;
			continue;
		}
		const created = result.value;
		if (created.kind === "created" && created.enqueueDelaySeconds !== null) {
			messages.push({ body: { id: created.id, type: inputs[i]?.type }, delaySeconds: created.enqueueDelaySeconds });
		}
		records.push(created.recordJson);
	}
	if (failed && idempotency === undefined) {
		// Every slot, not only the ones known to be created: a call that failed may have landed.
		await Promise.all([Promise.allSettled(slots.map((slot) => slot.stub.discard())), indexing]);
		if (createdAt !== undefined) await unindex(env, slots, createdAt);
		throw new ProblemError(
			"unavailable",
			"A task could not be recorded, so none of this request's tasks were created. Retry the request.",
			{
				headers: { "Retry-After": "1" },
			},
		);
	}
	// Sent while the index write may still be under way (the answer waits for both): whichever of
	// a task's index writes lands last, the newest summary wins (writes are ordered by updatedAt).
	const sending = messages.length > 0 ? sendOrLeaveToAlarm(env, messages) : undefined;
	// A row the index did not take: the task's alarm writes it within seconds.
	const unindexed = await indexing;
	await Promise.allSettled(slots.filter((slot) => unindexed.includes(slot.id)).map((slot) => slot.stub.indexWriteFailed()));
	await sending;
	if (failed) {
		throw new ProblemError(
			"unavailable",
			"Not every task could be recorded. Retry with the same Idempotency-Key: the tasks already created are kept and will not be created twice.",
			{
				headers: { "Retry-After": "1" },
			},
		);
	}
	return { ids: slots.map((slot) => slot.id), records, replayed };
}

/** The first task index row of a task being created: queued, at the creation time its object will record. */
function newTaskEntry(id: string, input: CreateTaskInput, createdAt: number): IndexEntry {
	return {
		id,
		type: input.type,
		status: "queued",
		tags: input.tags ?? [],
		attempts: 0,
		maxAttempts: input.maxAttempts,
		createdAt,
		updatedAt: createdAt,
	};
}

/** Removes the rows written for tasks that were then discarded (best effort). */
async function unindex(env: InternalEnv, slots: { id: string }[], createdAt: number): Promise<void> {
	const shards = readConfig(env).INDEX_SHARDS;
	await Promise.allSettled(slots.map((slot) => indexShardStub(env, shardOf(slot.id, shards)).remove(createdAt, slot.id)));
}

/** The key's task ids for this request (`replayed`: a repeat); a 422 when the key belongs to another request. */
async function claimTasks(env: InternalEnv, count: number, { key, fingerprint }: IdempotentRequest) {
	const claim = await idempotencyKeyStub(env, key).claim(fingerprint, count);
	if (claim.kind === "conflict") throw keyConflict();
	const slots = claim.tasks.map((task) => {
		const stub = findTaskStub(env, task.id);
		if (!stub) throw new Error("a key record named a malformed task id");
		return { id: task.id, stub, createBy: task.createBy };
	});
	return { slots, replayed: claim.kind === "existing" };
}
