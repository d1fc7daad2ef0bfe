// The example task types this repository's Worker (src/index.ts) runs. To add one: write
// src/tasks/<name>.ts with `defineTask` and add it to this list.
import { echo } from "./echo";
import { fail } from "./fail";
import { flaky } from "./flaky";
import { limitedConcurrency, limitedKey, limitedRate } from "./limited";
import { sha256 } from "./sha256";
import { sleep } from "./sleep";

export const exampleTasks = [echo, sleep, sha256, flaky, fail, limitedConcurrency, limitedRate, limitedKey] as const;
