// The queue consumer. Each message names one task; the whole batch is worked on concurrently and
// every message is acked or retried on its own, only after the task's Durable Object recorded
// what happened. The object is the source of truth, so a duplicate or stale message is harmless.
import { readConfig } from "../config";
import { findTaskStub } from "../durable/task-stub";
import { TaskMessage } from "../schemas";
import { taskTypes } from "../tasks/registry";
import { ProgressReporter } from "./progress";
import { runAttempt } from "./run-attempt";

export async function handleBatch(batch: MessageBatch, env: Env): Promise<void> {
	const deadLetters = batch.queue === readConfig(env).DEAD_LETTER_QUEUE;
	await Promise.all(
		batch.messages.map(async (message) => {
			try {
				const retryInSeconds = await (deadLetters ? endDeadLetter(message.body, env) : processMessage(message.body, env));
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
}

/** Runs the task's next attempt. Returns null to ack, or seconds after which to redeliver. */
async function processMessage(body: unknown, env: Env): Promise<number | null> {
	const task = taskFor(body, env);
	if (!task) return null;
	const start = await task.stub.start();
	// Not found, cancelled, finished, or held by a live attempt: the object owns what happens next.
	if (start.kind === "skip") return null;
	const definition = taskTypes.get(start.type);
	const outcome = definition
		? await runAttempt(
				definition,
				{ id: task.id, ...start },
				env,
				new ProgressReporter((json) => task.stub.progress(start.attempt, json)),
			)
		: ({
				ok: false,
				error: { name: "UnknownTaskTypeError", message: `No task type "${start.type}" is registered in this Worker.` },
				retryInSeconds: null,
			} as const);
	const finished = await task.stub.finish(start.attempt, outcome);
	return finished.accepted && finished.status === "retrying" && !outcome.ok ? outcome.retryInSeconds : null;
}

async function endDeadLetter(body: unknown, env: Env): Promise<null> {
	await taskFor(body, env)?.stub.deadLetter();
	return null;
}

function taskFor(body: unknown, env: Env) {
	const message = TaskMessage.safeParse(body);
	// A message that names no task of ours cannot be recorded anywhere: drop it.
	const stub = message.success ? findTaskStub(env, message.data.id) : null;
	return message.success && stub ? { id: message.data.id, stub } : null;
}
