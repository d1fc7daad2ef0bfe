// Delays beyond what a queue message can wait (12 h): the task's alarm keeps the time.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TaskObject } from "../src/durable/task-object";
import { getTaskStub } from "../src/durable/task-stub";
import { api, deliver, getTask, inTheFuture, queueMessage, submit, waitForTerminal } from "./helpers";

const DAY = 86_400;

describe("long delays", () => {
	it("keeps a task queued until runAt (2 days), then its alarm sends it and it runs", async () => {
		const before = Date.now();
		const record = await submit({ type: "echo", payload: { later: true }, delaySeconds: 2 * DAY });
		expect(Date.parse(record.runAt ?? "")).toBeGreaterThanOrEqual(before + 2 * DAY * 1000);
		const stub = getTaskStub(env, record.id);
		const alarm = await runInDurableObject(stub, (_: TaskObject, state) => state.storage.getAlarm());
		expect(alarm).toBe(Date.parse(record.runAt ?? ""));

		// Woken early, it only re-arms.
		await runDurableObjectAlarm(stub);
		expect((await getTask(record.id)).status).toBe("queued");

		// At runAt (the clock stays there while the consumer runs it too).
		const done = await inTheFuture(2 * DAY * 1000 + 1000, async () => {
			await runDurableObjectAlarm(stub);
			return waitForTerminal(record.id);
		});
		expect(done).toMatchObject({ status: "succeeded", result: { later: true } });
	});

	it("accepts 365 days and can be cancelled meanwhile", async () => {
		const record = await submit({ type: "echo", delaySeconds: 365 * DAY });
		const cancelled = await api(`/v1/tasks/${record.id}/cancel`, { method: "POST" });
		expect(cancelled.status).toBe(200);
		// Even if a message for it is delivered at runAt, a cancelled task does not run.
		const result = await inTheFuture(365 * DAY * 1000 + 1000, () => deliver("taskflare-tasks", [queueMessage({ id: record.id })]));
		expect(result.explicitAcks).toHaveLength(1);
		expect(await getTask(record.id)).toMatchObject({ status: "cancelled", attempts: 0 });
	});
});
