// Issue 15, defect 1: a queue outage must never leave a non-terminal task without a future alarm.
// The object's alarm re-sends due tasks; a `send` that keeps throwing (an outage, 429 Too Many
// Requests over 5,000 msg/s) used to make the alarm throw until the runtime gave up on it.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TaskObject } from "../src/durable/task-object";
import { withFailingQueue } from "./faults";
import { createTask, inTheFuture, readRecord, waitForTerminal } from "./helpers";

const HOUR = 3600_000;

/** Gives the live object another `env` (its queue binding is read from `this.env` on every send). */
function useEnv(stub: DurableObjectStub<TaskObject>, next: Env) {
	return runInDurableObject(stub, (instance: TaskObject) => {
		Reflect.set(instance, "env", next);
	});
}

const alarmAt = (stub: DurableObjectStub<TaskObject>) => runInDurableObject(stub, (_: TaskObject, state) => state.storage.getAlarm());

/** A queued task, or one retrying after a failed attempt; nothing of it is in the queue. */
async function dueTask(status: "queued" | "retrying") {
	const task = await createTask("echo", { survived: status });
	if (status === "retrying") {
		const start = await task.stub.start();
		if (start.kind !== "run") throw new Error("expected a run");
		const error = { name: "Error", message: "first attempt failed" };
		await task.stub.finish(start.attempt, { ok: false, error, retryInSeconds: 1 });
	}
	return task;
}

describe("alarm while Queue.send keeps failing", () => {
	it.each(["queued", "retrying"] as const)("keeps a %s task armed through 30 failing alarms, then runs it", async (status) => {
		const { id, stub } = await dueTask(status);
		const before = await readRecord(stub);
		await useEnv(stub, withFailingQueue());
		// Each run happens later than the last (every time the task is due), like an outage of hours.
		for (let run = 1; run <= 30; run++) {
			const ranAt = await inTheFuture(run * HOUR, async () => {
				await runDurableObjectAlarm(stub);
				return Date.now();
			});
			const next = await alarmAt(stub);
			expect(next, `alarm after failing run ${run}`).not.toBeNull();
			expect(next ?? 0).toBeGreaterThan(ranAt);
		}
		// Nothing misleading was recorded: the task is as it was (no error, no new attempt).
		expect(await readRecord(stub)).toEqual(before);
		// The backoff is capped: the next try is at most 5 minutes away, however long the outage.
		const retryIn = await inTheFuture(31 * HOUR, async () => {
			await runDurableObjectAlarm(stub);
			return ((await alarmAt(stub)) ?? 0) - Date.now();
		});
		expect(retryIn).toBeLessThanOrEqual(5 * 60_000);

		// The queue works again: the next alarm sends the task, and it runs.
		await useEnv(stub, env);
		await inTheFuture(32 * HOUR, () => runDurableObjectAlarm(stub));
		expect(await waitForTerminal(id)).toMatchObject({ status: "succeeded", result: { survived: status } });
	});
});
