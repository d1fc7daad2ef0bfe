// The Worker: HTTP API (fetch), queue consumer (queue, also for the dead-letter queue), and the
// Durable Object classes (one per task, one per Idempotency-Key, the task index's shards, one per
// bulk operation, one per schedule, the schedule directory).
import { app } from "./app";
import { handleBatch } from "./queue/consumer";

export { IdempotencyKeyObject } from "./durable/idempotency-key-object";
export { OperationObject } from "./durable/operation-object";
export { ScheduleDirectory } from "./durable/schedule-directory";
export { ScheduleObject } from "./durable/schedule-object";
export { TaskIndexObject } from "./durable/task-index";
export { TaskObject } from "./durable/task-object";

export default {
	fetch: app.fetch,
	queue: (batch, env) => handleBatch(batch, env),
} satisfies ExportedHandler<Env>;
