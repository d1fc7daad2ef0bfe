// This repository's Worker: the library (src/taskflare.ts) with the example task types and the
// library's `http` type (closed until HTTP_ALLOWED_HOSTS and WEBHOOK_SECRET are set), built the
// way any Worker uses it, so the example and the package cannot drift apart. The classes are
// declared (not only re-exported) so that `wrangler types` can name them as types in `Env`.
import { httpTask, taskflare } from "./taskflare";
import { exampleTasks } from "./tasks/examples";

const tf = taskflare({ tasks: [...exampleTasks, httpTask] });

export class TaskObject extends tf.objects.TaskObject {}
export class IdempotencyKeyObject extends tf.objects.IdempotencyKeyObject {}
export class TaskIndexObject extends tf.objects.TaskIndexObject {}
export class OperationObject extends tf.objects.OperationObject {}
export class ScheduleObject extends tf.objects.ScheduleObject {}
export class ScheduleDirectory extends tf.objects.ScheduleDirectory {}
export class LimiterObject extends tf.objects.LimiterObject {}

export default { fetch: tf.fetch, queue: tf.queue } satisfies ExportedHandler<Env>;
