// The queue consumer. Each message names one task; the whole batch is worked on concurrently
// (within each type's batchConcurrency) and every message is acked or retried on its own, only
// after the task's Durable Object recorded what happened. The object is the source of truth, so a
// duplicate or stale message is harmless.
import { readConfig } from "../config";
import type { AttemptOutcome } from "../durable/task-object";
import { findTaskStub } from "../durable/task-stub";
import type { InternalEnv } from "../environment";
import { IndexBatch } from "./index-batch";
import type { AttemptLimits } from "../durable/limiter-object";
import { attemptLimits, limitReads } from "../limits";
import { TaskMessage } from "../schemas";
import type { TaskRegistry } from "../tasks/registry";
import { LeaseKeeper } from "./lease-keeper";
import { ProgressReporter } from "./progress";
import { runAttempt } from "./run-attempt";
import { TypeGates } from "./type-gates";

/** Slots per task type, shared by every batch this isolate works on. */
const isolateGates = new TypeGates();

/** What the consumer runs tasks with, given by its caller (the entry, src/taskflare.ts). */
export type Runner = {
	taskTypes: TaskRegistry;
	/** Slots per task type. @defaultValue one set for the whole isolate */
	gates?: TypeGates;
	/** The Worker's own env, handed to handlers as `ctx.env`. @defaultValue `env` */
	handlerEnv?: Cloudflare.Env;
};

export async function handleBatch(batch: MessageBatch, env: InternalEnv, runner: Runner): Promise<void> {
	const { taskTypes, gates = isolateGates, handlerEnv = env } = runner;
	const run: Run = { env, taskTypes, handlerEnv };
	const deadLetters = batch.queue === readConfig(env).DEAD_LETTER_QUEUE;
	// The task index rows of the batch's changes, written per shard (see index-batch.ts).
	const index = new IndexBatch(env, batch.messages.length);
	await Promise.all(
		batch.messages.map(async (message) => {
			try {
				let retryInSeconds: number | null;
				try {
					retryInSeconds = await (deadLetters ? endDeadLetter(message, env) : processMessage(message.body, run, gates, index));
				} finally {
					// Acked only once its index rows are written (or their objects know they were not).
					await index.done();
				}
				if (retryInSeconds === null) message.ack();
				else message.retry({ delaySeconds: retryInSeconds });
			} catch (error) {
				// The object could not be reached or refused the call: nothing was recorded, so the
				// message must come back. (Not logged with details: may repeat for every message.)
				console.error("taskflare: message retried after error:", error instanceof Error ? error.name : "unknown");
				message.retry();
			}
		}),
	);
	// A type's override read in the background (limits.ts) must not be cut off with the invocation.
	await limitReads();
}

type Task = NonNullable<ReturnType<typeof taskFor>>;
type Run = { env: InternalEnv; taskTypes: TaskRegistry; handlerEnv: Cloudflare.Env };

/**
 * Runs the task's next attempt, or hands the task back to its object when its type has no free
 * slot here. Returns null to ack, or seconds after which to redeliver.
 */
async function processMessage(body: unknown, run: Run, gates: TypeGates, index: IndexBatch): Promise<number | null> {
	const task = taskFor(body, run.env);
	if (!task) return null;
	// Messages sent before the type was part of the message run without a limit.
	const declared = task.type === undefined ? undefined : run.taskTypes.get(task.type);
	// Flow control: what the attempt must acquire. Known without any call or await once the type's
	// override is cached (a type without limits then costs nothing here; see limits.ts).
	const pending = declared ? attemptLimits(run.env, declared) : null;
	const limits = pending instanceof Promise ? await pending : pending;
	const gate = declared ? gates.for(declared.type, declared.batchConcurrency) : null;
	if (!gate) return (await runNextAttempt(task, run, index, limits)).retryInSeconds;
	if (!gate.tryEnter()) {
		// Taken at once (not awaited in the batch), so the batch never waits for a slot.
		await task.stub.defer(gate.deferSeconds());
		return null;
	}
	let ranMs: number | null = null;
	try {
		const next = await runNextAttempt(task, run, index, limits);
		ranMs = next.ranMs;
		return next.retryInSeconds;
	} finally {
		gate.leave(ranMs);
	}
}

async function runNextAttempt(
	task: Task,
	run: Run,
	index: IndexBatch,
	limits: AttemptLimits | null,
): Promise<{ retryInSeconds: number | null; ranMs: number | null }> {
	const missed = () => task.stub.indexWriteFailed();
	const start = await task.stub.start(limits ? { indexedByCaller: true, limits } : { indexedByCaller: true });
	// On a skip too: a redelivered message of a task that ended rewrites its row (see index-batch.ts).
	if (start.index) index.add(start.index, missed);
	// Not found, cancelled, finished, held by a live attempt, or waiting for a limiter (which wakes
	// it): the object owns what happens next.
	if (start.kind === "skip") return { retryInSeconds: null, ranMs: null };
	// A rate limit granted a start time up to a second ahead: the handler starts then.
	if (start.startAt !== undefined) await untilTime(start.startAt);
	const definition = run.taskTypes.get(start.type);
	const startedAt = Date.now();
	let outcome: AttemptOutcome;
	if (definition) {
		// Renews the attempt's lease while the handler runs; aborts the handler if it was lost.
		const lease = new LeaseKeeper(() => task.stub.renew(start.attempt));
		try {
			outcome = await runAttempt(
				definition,
				{ id: task.id, ...start },
				run.handlerEnv,
				new ProgressReporter((json) => task.stub.progress(start.attempt, json)),
				lease.signal,
			);
		} finally {
			lease.stop();
		}
	} else {
		outcome = {
			ok: false,
			error: { name: "UnknownTaskTypeError", message: `No task type "${start.type}" is registered in this Worker.` },
			retryInSeconds: null,
		};
	}
	const ranMs = Date.now() - startedAt;
	const finished = await task.stub.finish(start.attempt, outcome, { indexedByCaller: true });
	if (finished.index) index.add(finished.index, missed);
	const retryInSeconds = finished.accepted && finished.status === "retrying" && !outcome.ok ? outcome.retryInSeconds : null;
	return { retryInSeconds, ranMs };
}

async function endDeadLetter(message: Message, env: InternalEnv): Promise<null> {
	// The send time lets the task ignore a message of a run that a retry has since replaced.
	await taskFor(message.body, env)?.stub.deadLetter(message.timestamp.getTime());
	return null;
}

function untilTime(at: number): Promise<void> {
	const ms = at - Date.now();
	return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

function taskFor(body: unknown, env: InternalEnv) {
	const message = TaskMessage.safeParse(body);
	// A message that names no task of ours cannot be recorded anywhere: drop it.
	const stub = message.success ? findTaskStub(env, message.data.id) : null;
	return message.success && stub ? { id: message.data.id, type: message.data.type, stub } : null;
}
