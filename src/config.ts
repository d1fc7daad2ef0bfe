// Worker vars (wrangler.toml [vars]) parsed once per `env`, with the documented defaults.
import { z } from "zod";
import type { InternalEnv } from "./environment";

export type Config = z.infer<typeof Config>;
export const Config = z.object({
	/** Seconds a terminal task's record is kept before its object deletes it. */
	RESULT_TTL_SECONDS: z.coerce
		.number()
		.int()
		.min(0)
		.default(7 * 24 * 3600),
	/** Seconds a due task may show no sign of life before its object re-sends it to the queue. */
	REDRIVE_AFTER_SECONDS: z.coerce.number().int().min(1).default(120),
	/** Task type of the seed-compatible `POST /process_task`. */
	DEFAULT_TASK_TYPE: z.string().min(1).default("echo"),
	/** Name of the dead-letter queue, so the consumer can tell its batches apart. */
	DEAD_LETTER_QUEUE: z.string().min(1).default("taskflare-tasks-dlq"),
	/** Task index shards (Durable Objects `task-index-0` … `task-index-<N-1>`); see the README before lowering. */
	INDEX_SHARDS: z.coerce.number().int().min(1).max(256).default(8),
	/** A schedule's fire handled more than this many seconds after its time counts as missed (catchUp). */
	SCHEDULE_MISSED_AFTER_SECONDS: z.coerce.number().int().min(1).default(60),
});

/**
 * A running attempt's lease: how long its object waits for a sign of life (a renewal or a progress
 * write) from the consumer before it retries the attempt. Short, so that a dead consumer is noticed
 * within seconds whatever the type's timeout.
 */
export const LEASE_SECONDS = 30;
/**
 * The consumer renews the lease this long before it runs out (after 20 s), so a renewal may be
 * late by this much on a loaded machine. A lease younger than this is not written again (a
 * progress write or a renewal soon after another costs nothing extra).
 */
export const LEASE_RENEW_MARGIN_SECONDS = 10;
/**
 * While running, the object's alarm may sit up to this long after the lease's end (so starting an
 * attempt need not move it): a lapsed lease is noticed within this much of its end.
 */
export const LEASE_ALARM_SLACK_SECONDS = 15;
/** No renewal extends an attempt's lease past its start + the type's timeout + this grace. */
export const LEASE_GRACE_SECONDS = 30;
/** Longest delay handed to Queues itself; longer delays are kept by the task's alarm. */
export const QUEUE_MAX_DELAY_SECONDS = 12 * 3600;

const cache = new WeakMap<object, Config>();

export function readConfig(env: InternalEnv): Config {
	let config = cache.get(env);
	if (!config) {
		config = Config.parse(env);
		cache.set(env, config);
	}
	return config;
}
