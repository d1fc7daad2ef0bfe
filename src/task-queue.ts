// Sending task messages to the queue from a request or an operation (submit, retry, bulk retry).
// A failed send loses nothing: each task's own object re-sends it from its alarm.
import type { InternalEnv } from "./environment";
import type { TaskMessage } from "./schemas";

/** Sends up to 100 messages; a failure is left to the tasks' alarms. */
export async function sendOrLeaveToAlarm(env: InternalEnv, messages: MessageSendRequest<TaskMessage>[]): Promise<void> {
	try {
		await (messages.length === 1 && messages[0]
			? env.TASK_QUEUE.send(messages[0].body, { delaySeconds: messages[0].delaySeconds })
			: env.TASK_QUEUE.sendBatch(messages));
	} catch {
		console.error("taskflare: sending to the queue failed; the tasks' alarms will re-send them");
	}
}
