// Issue 15, defect 7: a batch submit whose Durable Object call fails mid-batch. Without an
// Idempotency-Key the request is all or nothing: the tasks it created are discarded before the
// error answer, so none of them runs. With a key, a retry of the batch replays the tasks that were
// created and creates only the missing ones.
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findTaskStub, getTaskStub } from "../src/durable/task-stub";
import { prepareTasks, submitTasks } from "../src/submit";
import { withNthTaskCallFailing } from "./faults";
import { inTheFuture, readRecord, taskTypes, waitForTerminal } from "./helpers";

const tasks = (tag: string) => Array.from({ length: 5 }, (_, i) => ({ type: "echo", payload: { tag, i } }));

describe("batch submit with an object call failing mid-batch", () => {
	it("without a key: answers an error and leaves no task behind, not even for the alarm to run", async () => {
		const faulty = withNthTaskCallFailing("create", 3);
		const inputs = prepareTasks(taskTypes, env, tasks(crypto.randomUUID()), ["tasks"]);
		await expect(submitTasks(faulty.env, inputs)).rejects.toThrow("none of this request's tasks were created");
		expect(new Set(faulty.ids).size).toBe(5);
		for (const id of faulty.ids) {
			const stub = findTaskStub(env, id);
			if (!stub) throw new Error("not a task id");
			// Gone now, and still gone after the time a re-drive alarm would have sent it.
			expect(await readRecord(stub), id).toBeNull();
			await inTheFuture(3600_000, () => runDurableObjectAlarm(stub));
			expect(await readRecord(stub), id).toBeNull();
		}
	});

	it("with a key: the retried batch replays the created tasks and creates only the missing one", async () => {
		const key = { key: `batch-${crypto.randomUUID()}`, fingerprint: "f1" };
		const bodies = tasks(crypto.randomUUID());
		const inputs = prepareTasks(taskTypes, env, bodies, ["tasks"]);
		const faulty = withNthTaskCallFailing("create", 3);
		await expect(submitTasks(faulty.env, inputs, key)).rejects.toThrow("Retry with the same Idempotency-Key");
		const claimed = [...new Set(faulty.ids)];
		const kept = await Promise.all(claimed.map((id) => getTaskStub(env, id).exists()));
		expect(kept).toEqual([true, true, false, true, true]);

		const retried = await submitTasks(env, inputs, key);
		expect(retried.replayed).toBe(true);
		// The same five task ids the first request claimed, in order; each task runs once.
		expect(retried.ids).toEqual(claimed);
		const done = await Promise.all(retried.ids.map((id) => waitForTerminal(id)));
		expect(done.map((t) => [t.status, t.attempts, t.payload])).toEqual(bodies.map((body) => ["succeeded", 1, body.payload]));
	});
});
