// GET /v1/stats: task counts from the index shards, and the queues' backlogs from Queue.metrics().
import { readConfig } from "./config";
import { readShardStats } from "./durable/task-index-stub";
import type { InternalEnv } from "./environment";
import type { QueueBacklog, StatusCounts, TaskStats } from "./schemas";

const MINUTE = 60_000;

const noCounts = (): StatusCounts => ({ queued: 0, running: 0, retrying: 0, succeeded: 0, failed: 0, cancelled: 0 });

export async function readStats(env: InternalEnv, now = Date.now()): Promise<TaskStats> {
	const thisMinute = now - (now % MINUTE);
	const since = thisMinute - 59 * MINUTE;
	const [shards, tasks, deadLetter] = await Promise.all([
		readShardStats(env, since),
		backlog(env.TASK_QUEUE, now),
		backlog(env.DEAD_LETTER_QUEUE_METRICS, now),
	]);
	const byStatus = noCounts();
	const byType: Record<string, StatusCounts> = {};
	const minutes = Array.from({ length: 60 }, (_, i) => ({ minute: since + i * MINUTE, created: 0, succeeded: 0, failed: 0 }));
	for (const shard of shards) {
		for (const { status, type, n } of shard.counts) {
			byStatus[status] += n;
			const counts = (byType[type] ??= noCounts());
			counts[status] += n;
		}
		for (const row of shard.minutes) {
			const slot = minutes[(row.minute - since) / MINUTE];
			if (!slot) continue;
			slot.created += row.created;
			slot.succeeded += row.succeeded;
			slot.failed += row.failed;
		}
	}
	return {
		generatedAt: new Date(now).toISOString(),
		retentionSeconds: readConfig(env).RESULT_TTL_SECONDS,
		byStatus,
		byType,
		lastHour: minutes.map((m) => ({ ...m, minute: new Date(m.minute).toISOString() })),
		queues: { tasks, deadLetter },
	};
}

/** The queue's backlog, or null if the metrics could not be read (stats stay available). */
async function backlog(queue: Queue, now: number): Promise<QueueBacklog | null> {
	try {
		const metrics = await queue.metrics();
		const oldest = metrics.oldestMessageTimestamp;
		return {
			backlogCount: metrics.backlogCount,
			backlogBytes: metrics.backlogBytes,
			oldestMessageAgeSeconds: oldest === undefined ? null : Math.max(0, (now - new Date(oldest).getTime()) / 1000),
		};
	} catch {
		console.error("taskflare: Queue.metrics() failed");
		return null;
	}
}
