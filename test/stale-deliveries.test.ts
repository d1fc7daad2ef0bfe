// Issue 15, defect 6: every delivery is judged against the task object's own state and times. A
// dead-lettered stale copy must not fail a healthy running attempt; a duplicate delivery must not
// start a retrying task before its backoff has passed.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleBatch } from "../src/queue/consumer";
import { createTask, inTheFuture, queueMessage, readRecord, taskTypes } from "./helpers";

async function deliver(queue: string, id: string) {
	const batch = createMessageBatch(queue, [queueMessage({ id })]);
	await handleBatch(batch, env, { taskTypes });
	return getQueueResult(batch, createExecutionContext());
}

describe("stale deliveries", () => {
	it("a dead-lettered copy does not fail a task whose running attempt holds a live lease", async () => {
		const { id, stub } = await createTask("echo", { healthy: true });
		const start = await stub.start();
		if (start.kind !== "run") throw new Error("expected a run");
		expect((await deliver("taskflare-tasks-dlq", id)).explicitAcks).toHaveLength(1);
		expect(await readRecord(stub)).toMatchObject({ status: "running", attempts: 1 });
		// The healthy attempt still records its outcome.
		expect(await stub.finish(start.attempt, { ok: true, resultJson: '{"done":true}' })).toEqual({ accepted: true, status: "succeeded" });
	});

	it("a dead letter still ends a task whose running attempt's lease ran out", async () => {
		const { id, stub } = await createTask("echo");
		await stub.start();
		await inTheFuture(3600_000, () => deliver("taskflare-tasks-dlq", id));
		expect(await readRecord(stub)).toMatchObject({ status: "failed", error: { name: "DeliveryError" } });
	});

	it("a duplicate delivered during the backoff does not start the retry early", async () => {
		const { id, stub } = await createTask("flaky", { failTimes: 0 });
		const start = await stub.start();
		if (start.kind !== "run") throw new Error("expected a run");
		const error = { name: "Error", message: "attempt 1 failed" };
		await stub.finish(start.attempt, { ok: false, error, retryInSeconds: 600 });
		// A duplicate arrives a minute into the 10-minute backoff: acknowledged, nothing started.
		const early = await inTheFuture(60_000, () => deliver("taskflare-tasks", id));
		expect(early.explicitAcks).toHaveLength(1);
		expect(await readRecord(stub)).toMatchObject({ status: "retrying", attempts: 1, error });
		// Once the backoff has passed, a delivery starts attempt 2.
		await inTheFuture(601_000, () => deliver("taskflare-tasks", id));
		expect(await readRecord(stub)).toMatchObject({ status: "succeeded", attempts: 2 });
	});
});
