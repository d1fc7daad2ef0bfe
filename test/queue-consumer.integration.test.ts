// The consumer reached through the Worker's own `queue` export, and the full round trip:
// HTTP submit → real (local) queue → consumer → Durable Object → HTTP lookup.
import { describe, expect, it } from "vitest";
import { createTask, deliver, queueMessage, readRecord, submit, waitForTerminal } from "./helpers";

describe("queue consumer (integration)", () => {
	it("acks through the Worker's queue handler", async () => {
		const a = await createTask("echo", { via: "worker" });
		const b = await createTask("fail", { message: "nope" });
		const messages = [queueMessage({ id: a.id }), queueMessage({ id: b.id })];
		const result = await deliver("taskflare-tasks", messages);
		expect(result.outcome).toBe("ok");
		expect(result.explicitAcks.sort()).toEqual(messages.map((m) => m.id).sort());
		expect(await readRecord(a.stub)).toMatchObject({ status: "succeeded", result: { via: "worker" } });
		expect(await readRecord(b.stub)).toMatchObject({ status: "failed" });
	});

	it("retries through the Worker's queue handler", async () => {
		const task = await createTask("flaky", { failTimes: 1 });
		const result = await deliver("taskflare-tasks", [queueMessage({ id: task.id })]);
		expect(result.retryMessages).toHaveLength(1);
		expect(result.explicitAcks).toEqual([]);
	});

	it("every example type reaches its documented outcome through the real queue", async () => {
		const cases = [
			{ body: { type: "echo", payload: { k: "v" } }, expected: { status: "succeeded", result: { k: "v" } } },
			{ body: { type: "sleep", payload: { ms: 50 } }, expected: { status: "succeeded", result: { sleptMs: 50 } } },
			{
				body: { type: "sha256", payload: { text: "abc", iterations: 2 } },
				expected: { status: "succeeded", result: { hex: "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358" } },
			},
			{ body: { type: "flaky", payload: { failTimes: 1 } }, expected: { status: "succeeded", attempts: 2, result: { attempts: 2 } } },
			{ body: { type: "fail", payload: { message: "x" } }, expected: { status: "failed", attempts: 1, error: { message: "x" } } },
			{
				body: { type: "fail", payload: { message: "y", retryable: true }, maxAttempts: 2 },
				expected: { status: "failed", attempts: 2, error: { name: "Error", message: "y" } },
			},
		];
		const submitted = await Promise.all(cases.map((c) => submit(c.body)));
		const finished = await Promise.all(submitted.map((r) => waitForTerminal(r.id, 20_000)));
		finished.forEach((record, i) => expect(record).toMatchObject(cases[i]?.expected ?? {}));
	});
});
