// A type's batchConcurrency: the consumer runs at most that many of its attempts at once and hands
// the rest of a batch back to their objects (no attempt spent, message acked), which re-send them
// when a slot should be free. Consumer unit tests with createMessageBatch + getQueueResult.
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { TaskObject } from "../src/durable/task-object";
import { handleBatch } from "../src/queue/consumer";
import { TypeGate, TypeGates } from "../src/queue/type-gates";
import { defineTask } from "../src/tasks/define-task";
import { sha256 } from "../src/tasks/sha256";
import { createTask, inTheFuture, queueMessage, readRecord, taskTypes, waitForTerminal } from "./helpers";

const alarmOf = (stub: DurableObjectStub<TaskObject>) => runInDurableObject(stub, (_: TaskObject, state) => state.storage.getAlarm());

describe("batchConcurrency", () => {
	it("runs one sha256 of a batch at a time and hands the others back without spending an attempt", async () => {
		const hashes = await Promise.all([1, 2, 3].map(() => createTask("sha256", { text: "abc", iterations: 1000 }, { timeoutSeconds: 120 })));
		const echo = await createTask("echo", { n: 1 });
		const messages = [...hashes, echo].map((task, i) => queueMessage({ id: task.id, type: i < 3 ? "sha256" : "echo" }));
		const batch = createMessageBatch("taskflare-tasks", messages);
		const before = Date.now();
		await handleBatch(batch, env, { taskTypes, gates: new TypeGates() });
		const result = await getQueueResult(batch, createExecutionContext());
		// Every message acked: the handed-back ones are the objects' to re-send (no Queues retry,
		// which would count toward max_retries and end in the dead-letter queue).
		expect(result.explicitAcks).toHaveLength(4);
		expect(result.retryMessages).toEqual([]);
		const [first, second, third] = hashes;
		if (!first || !second || !third) throw new Error("three tasks expected");
		expect(await readRecord(first.stub)).toMatchObject({ status: "succeeded", attempts: 1 });
		expect(await readRecord(echo.stub)).toMatchObject({ status: "succeeded", attempts: 1 });
		for (const waiting of [second, third]) {
			expect(await readRecord(waiting.stub)).toMatchObject({ status: "queued", attempts: 0 });
			expect(await alarmOf(waiting.stub)).toBeGreaterThanOrEqual(before + 1000);
		}
		// The object re-sends a handed-back task when its alarm goes off; it then runs.
		expect(await inTheFuture(60_000, () => runDurableObjectAlarm(second.stub))).toBe(true);
		expect(await waitForTerminal(second.id)).toMatchObject({ status: "succeeded", attempts: 1 });
	});

	it("is 1 for sha256 and unlimited by default; refuses nonsense", () => {
		expect(sha256.batchConcurrency).toBe(1);
		const run = () => null;
		expect(defineTask({ type: "t", description: "", input: z.null(), run }).batchConcurrency).toBe(Number.POSITIVE_INFINITY);
		expect(() => defineTask({ type: "t", description: "", input: z.null(), batchConcurrency: 0, run })).toThrow(RangeError);
		expect(() => defineTask({ type: "t", description: "", input: z.null(), batchConcurrency: 1.5, run })).toThrow(RangeError);
	});
});

describe("TypeGate", () => {
	it("hands messages back one average attempt per slot apart, after the ones before them", () => {
		const gate = new TypeGate(2);
		expect(gate.tryEnter()).toBe(true);
		expect(gate.tryEnter()).toBe(true);
		expect(gate.tryEnter()).toBe(false);
		gate.leave(4000);
		gate.leave(4000);
		const now = 1_000_000;
		// 4 s per attempt, 2 slots: one message every 2 s.
		expect([1, 2, 3].map(() => gate.deferSeconds(now))).toEqual([2, 4, 6]);
		expect(new TypeGates().for("echo", Number.POSITIVE_INFINITY)).toBeNull();
	});
});
