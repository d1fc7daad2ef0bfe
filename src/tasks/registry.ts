// Every task type the Worker can run. To add one: write src/tasks/<name>.ts with `defineTask`
// and add it to this list.
import type { TaskDefinition } from "./define-task";
import { echo } from "./echo";
import { fail } from "./fail";
import { flaky } from "./flaky";
import { sha256 } from "./sha256";
import { sleep } from "./sleep";

const definitions: TaskDefinition[] = [echo, sleep, sha256, flaky, fail];

export const taskTypes: ReadonlyMap<string, TaskDefinition> = new Map(definitions.map((d) => [d.type, d]));
