// The Worker: HTTP API (fetch), queue consumer (queue, also for the dead-letter queue), and the
// per-task Durable Object class.
import { app } from "./app";
import { handleBatch } from "./queue/consumer";

export { TaskObject } from "./durable/task-object";

export default {
	fetch: app.fetch,
	queue: (batch, env) => handleBatch(batch, env),
} satisfies ExportedHandler<Env>;
