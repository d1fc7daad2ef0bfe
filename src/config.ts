// Worker vars (wrangler.toml [vars]) parsed once per `env`, with the documented defaults.
import { z } from "zod";

export type Config = z.infer<typeof Config>;
export const Config = z.object({
	/** Seconds a terminal task's record is kept before its object deletes it. */
	RESULT_TTL_SECONDS: z.coerce.number().int().min(0).default(7 * 24 * 3600),
	/** Seconds a due task may show no sign of life before its object re-sends it to the queue. */
	REDRIVE_AFTER_SECONDS: z.coerce.number().int().min(1).default(120),
	/** Task type of the seed-compatible `POST /process_task`. */
	DEFAULT_TASK_TYPE: z.string().min(1).default("echo"),
	/** Name of the dead-letter queue, so the consumer can tell its batches apart. */
	DEAD_LETTER_QUEUE: z.string().min(1).default("taskflare-tasks-dlq"),
});

/** Grace on top of a type's timeout before a silent attempt's lease expires. */
export const LEASE_GRACE_SECONDS = 30;
/** Longest delay handed to Queues itself; longer delays are kept by the task's alarm. */
export const QUEUE_MAX_DELAY_SECONDS = 12 * 3600;

const cache = new WeakMap<object, Config>();

export function readConfig(env: Env): Config {
	let config = cache.get(env);
	if (!config) {
		config = Config.parse(env);
		cache.set(env, config);
	}
	return config;
}
