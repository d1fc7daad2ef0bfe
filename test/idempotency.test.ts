// Idempotency-Key: replays, conflicts, malformed keys, racing duplicates, the key's lifetime,
// semantic comparison of bodies, and the batch and seed routes.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { IdempotencyKeyObject } from "../src/durable/idempotency-key-object";
import { idempotencyKeyStub } from "../src/durable/idempotency-key-stub";
import { getTaskStub } from "../src/durable/task-stub";
import { SeedSubmitResponse, TaskRecord, TaskRecordList } from "../src/schemas";
import { api, expectProblem, inTheFuture, readRecord, waitForTerminal } from "./helpers";

const post = (key: string, body: unknown) => api("/v1/tasks", { json: body, headers: { "Idempotency-Key": key } });

describe("Idempotency-Key", () => {
	it("returns the original task for a repeat with the same key and body", async () => {
		const key = `order-${crypto.randomUUID()}`;
		const body = { type: "flaky", payload: { failTimes: 0 } };
		const first = await post(key, body);
		expect(first.status).toBe(202);
		expect(first.headers.get("Idempotent-Replayed")).toBeNull();
		const original = TaskRecord.parse(await first.json());
		await waitForTerminal(original.id);

		const repeat = await post(key, body);
		expect(repeat.status).toBe(200);
		expect(repeat.headers.get("Idempotent-Replayed")).toBe("true");
		expect(repeat.headers.get("Location")).toBe(`/v1/tasks/${original.id}`);
		// The original task, in its current state, run once.
		expect(TaskRecord.parse(await repeat.json())).toMatchObject({ id: original.id, status: "succeeded", attempts: 1 });
	});

	it("answers 422 when the key is reused with a different body", async () => {
		const key = crypto.randomUUID();
		expect((await post(key, { type: "echo", payload: { n: 1 } })).status).toBe(202);
		const problem = await expectProblem(await post(key, { type: "echo", payload: { n: 2 } }), 422);
		expect(problem.errors?.[0]?.path).toBe("Idempotency-Key");
	});

	it.each([
		["empty", ""],
		["too long", "k".repeat(256)],
		["with a space", "two words"],
		["not ASCII", "clé"],
	])("answers 422 for a malformed key (%s)", async (_, key) => {
		const problem = await expectProblem(await post(key, { type: "echo" }), 422);
		// Spelt as the header is written, as for the key's other problems (above).
		expect(problem.errors?.[0]?.path).toBe("Idempotency-Key");
	});

	it("accepts a key of 255 visible ASCII characters", async () => {
		expect((await post("~".repeat(255), { type: "echo" })).status).toBe(202);
	});

	it("creates exactly one task when identical requests race", async () => {
		const key = crypto.randomUUID();
		const body = { type: "flaky", payload: { failTimes: 0 } };
		const responses = await Promise.all(Array.from({ length: 10 }, () => post(key, body)));
		const statuses = responses.map((r) => r.status).sort((a, b) => a - b);
		expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
		const ids = new Set(await Promise.all(responses.map(async (r) => TaskRecord.parse(await r.json()).id)));
		expect(ids.size).toBe(1);
		const [id] = [...ids];
		expect(await waitForTerminal(id ?? "")).toMatchObject({ status: "succeeded", attempts: 1, result: { attempts: 1 } });
	});
});

// Issue 15, defect 5: a task id never names two tasks, and bodies are compared by meaning.
describe("Idempotency-Key lifetime and comparison", () => {
	const DAY = 24 * 3600_000;

	it("after the task's record expired, the key creates a new task with a new id", async () => {
		const key = `expiring-${crypto.randomUUID()}`;
		const first = TaskRecord.parse(await (await post(key, { type: "echo", payload: { owner: "alice" } })).json());
		await waitForTerminal(first.id);
		// Eight days later the first task's record is gone (retention is 7 days)...
		await inTheFuture(8 * DAY, async () => {
			const stub = getTaskStub(env, first.id);
			await runDurableObjectAlarm(stub);
			expect(await readRecord(stub)).toBeNull();
			// ... and the key, reused with another body, names a new task: never the old id.
			const again = await post(key, { type: "echo", payload: { owner: "mallory" } });
			expect(again.status).toBe(202);
			const second = TaskRecord.parse(await again.json());
			expect(second.id).not.toBe(first.id);
			await expectProblem(await api(`/v1/tasks/${first.id}`), 404);
			// A repeat of the new request replays the new task.
			const repeat = await post(key, { type: "echo", payload: { owner: "mallory" } });
			expect(repeat.status).toBe(200);
			expect(TaskRecord.parse(await repeat.json()).id).toBe(second.id);
		});
	});

	it("the key record deletes itself once its task is gone, and not before", async () => {
		const key = `cleanup-${crypto.randomUUID()}`;
		const { id } = TaskRecord.parse(await (await post(key, { type: "echo" })).json());
		await waitForTerminal(id);
		const keyStub = idempotencyKeyStub(env, key);
		const rows = () => runInDurableObject(keyStub, (_: IdempotencyKeyObject, state) => [...state.storage.kv.list()].length);
		// A day later the task still exists: the key stays bound to it.
		await inTheFuture(DAY, () => runDurableObjectAlarm(keyStub));
		expect(await rows()).toBe(1);
		// After the task's retention, its record and then the key's are gone.
		await inTheFuture(8 * DAY, async () => {
			await runDurableObjectAlarm(getTaskStub(env, id));
			await runDurableObjectAlarm(keyStub);
		});
		expect(await rows()).toBe(0);
	});

	it("compares bodies by meaning: key order and explicit defaults do not matter", async () => {
		const key = crypto.randomUUID();
		const first = await post(key, { type: "echo", payload: { a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } } });
		expect(first.status).toBe(202);
		const { id } = TaskRecord.parse(await first.json());
		// The same request written differently: keys reordered (nested too), defaults spelled out.
		const same = [
			{ payload: { b: { d: [1, { f: 4, e: 3 }], c: 2 }, a: 1 }, type: "echo" },
			{ type: "echo", payload: { a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } }, maxAttempts: 3, delaySeconds: 0 },
		];
		for (const body of same) {
			const repeat = await post(key, body);
			expect(repeat.status, JSON.stringify(body)).toBe(200);
			expect(TaskRecord.parse(await repeat.json()).id).toBe(id);
		}
		// Real differences still conflict: another maxAttempts, another array order.
		await expectProblem(await post(key, { type: "echo", payload: { a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } }, maxAttempts: 4 }), 422);
		await expectProblem(await post(key, { type: "echo", payload: { a: 1, b: { c: 2, d: [{ e: 3, f: 4 }, 1] } } }), 422);
	});
});

// Issue 15, defect 8: the key is honoured on the batch and seed routes, never ignored.
describe("Idempotency-Key on POST /v1/tasks/batch and POST /process_task", () => {
	const batch = (key: string, body: unknown) => api("/v1/tasks/batch", { json: body, headers: { "Idempotency-Key": key } });
	const seed = (key: string, body: unknown) => api("/process_task", { json: body, headers: { "Idempotency-Key": key } });

	it("a batch repeated with its key replays the same tasks; another body is a 422", async () => {
		const key = crypto.randomUUID();
		const body = {
			tasks: [
				{ type: "echo", payload: { n: 1 } },
				{ type: "flaky", payload: { failTimes: 0 } },
			],
		};
		const first = await batch(key, body);
		expect(first.status).toBe(202);
		const created = TaskRecordList.parse(await first.json()).tasks;
		const repeat = await batch(key, body);
		expect(repeat.status).toBe(200);
		expect(repeat.headers.get("Idempotent-Replayed")).toBe("true");
		expect(TaskRecordList.parse(await repeat.json()).tasks.map((t) => t.id)).toEqual(created.map((t) => t.id));
		expect(await waitForTerminal(created[1]?.id ?? "")).toMatchObject({ status: "succeeded", attempts: 1 });
		const other = await expectProblem(await batch(key, { tasks: [{ type: "echo", payload: { n: 2 } }] }), 422);
		expect(other.errors?.[0]?.path).toBe("Idempotency-Key");
		// The key covers one route: the same key on another route is another request.
		await expectProblem(await post(key, { type: "echo", payload: { n: 1 } }), 422);
	});

	it("POST /process_task repeated with its key returns the same id; another body is a 422", async () => {
		const key = crypto.randomUUID();
		const first = await seed(key, { order: 7 });
		expect(first.status).toBe(202);
		const { id } = SeedSubmitResponse.parse(await first.json());
		const repeat = await seed(key, { order: 7 });
		expect(repeat.status).toBe(200);
		expect(repeat.headers.get("Idempotent-Replayed")).toBe("true");
		expect(SeedSubmitResponse.parse(await repeat.json()).id).toBe(id);
		await expectProblem(await seed(key, { order: 8 }), 422);
		await expectProblem(await seed("two words", { order: 7 }), 422);
	});
});
