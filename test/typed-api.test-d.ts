// Type-level test of the library entry, checked by `npm run typecheck` (tsc), never run: the
// payload of tf.submit is the task type's input, an unknown task type does not compile, and a
// Worker's env must carry the bindings taskflare needs (under the names the options give).
import { z } from "zod";
import { defineTask, type TaskRecord, taskflare } from "../src/taskflare";

const resizeImage = defineTask({
	type: "resize-image",
	description: "Resizes an image.",
	input: z.object({ key: z.string(), width: z.int().positive(), format: z.enum(["png", "webp"]).default("webp") }),
	run: ({ key, width, format }) => ({ key: `${key}@${width}.${format}` }),
});
const sendEmail = defineTask({
	type: "send-email",
	description: "Sends an email.",
	input: z.object({ to: z.email(), subject: z.string() }),
	run: () => undefined,
});

const tf = taskflare({ tasks: [resizeImage, sendEmail] });

export async function compiles(env: Cloudflare.Env): Promise<TaskRecord[]> {
	return [
		// `format` has a default, so the input type leaves it optional.
		await tf.submit(env, "resize-image", { key: "cat.png", width: 200 }),
		await tf.submit(env, "send-email", { to: "a@example.com", subject: "Hi" }, { delaySeconds: 60, idempotencyKey: "welcome-a" }),
	];
}

export async function doesNotCompile(env: Cloudflare.Env): Promise<void> {
	// @ts-expect-error: not a task type of this taskflare
	await tf.submit(env, "resize-images", { key: "cat.png", width: 200 });
	// @ts-expect-error: width must be a number
	await tf.submit(env, "resize-image", { key: "cat.png", width: "200" });
	// @ts-expect-error: the payload of send-email, given to resize-image
	await tf.submit(env, "resize-image", { to: "a@example.com", subject: "Hi" });
	// @ts-expect-error: a required field is missing
	await tf.submit(env, "send-email", { to: "a@example.com" });
	// @ts-expect-error: not an option of submit
	await tf.submit(env, "send-email", { to: "a@example.com", subject: "Hi" }, { urgency: 1 });
}

/** A Worker env of one's own: it must hold taskflare's bindings under the names the options give. */
type HostEnv = {
	JOBS: Queue;
	DEAD_LETTER_QUEUE_METRICS: Queue;
	TASK_OBJECT: DurableObjectNamespace<import("../src/durable/task-object").TaskObject>;
	IDEMPOTENCY_KEY_OBJECT: DurableObjectNamespace<import("../src/durable/idempotency-key-object").IdempotencyKeyObject>;
	TASK_INDEX: DurableObjectNamespace<import("../src/durable/task-index").TaskIndexObject>;
	OPERATION_OBJECT: DurableObjectNamespace<import("../src/durable/operation-object").OperationObject>;
	SCHEDULE_OBJECT: DurableObjectNamespace<import("../src/durable/schedule-object").ScheduleObject>;
	SCHEDULE_DIRECTORY: DurableObjectNamespace<import("../src/durable/schedule-directory").ScheduleDirectory>;
	API_TOKEN: string;
};

export const renamed = taskflare({ tasks: [sendEmail], bindings: { taskQueue: "JOBS" } });
export const hostWorker = { fetch: renamed.fetch, queue: renamed.queue } satisfies ExportedHandler<HostEnv & Cloudflare.Env>;
// @ts-expect-error: with the default names the env has no TASK_QUEUE
export const missingBinding = { fetch: tf.fetch } satisfies ExportedHandler<Omit<HostEnv & Cloudflare.Env, "TASK_QUEUE">>;
