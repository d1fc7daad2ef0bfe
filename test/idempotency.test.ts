// Idempotency-Key on POST /v1/tasks: replays, conflicts, malformed keys, and racing duplicates.
import { describe, expect, it } from "vitest";
import { TaskRecord } from "../src/schemas";
import { api, expectProblem, waitForTerminal } from "./helpers";

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
		expect(problem.errors?.[0]?.path).toBe("idempotency-key");
	});

	it("accepts a key of 255 visible ASCII characters", async () => {
		expect((await post("~".repeat(255), { type: "echo" })).status).toBe(202);
	});

	it("creates exactly one task when identical requests race", async () => {
		const key = crypto.randomUUID();
		const body = { type: "flaky", payload: { failTimes: 0 } };
		const responses = await Promise.all(Array.from({ length: 10 }, () => post(key, body)));
		const statuses = responses.map((r) => r.status).sort();
		expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
		const ids = new Set(await Promise.all(responses.map(async (r) => TaskRecord.parse(await r.json()).id)));
		expect(ids.size).toBe(1);
		const [id] = [...ids];
		expect(await waitForTerminal(id ?? "")).toMatchObject({ status: "succeeded", attempts: 1, result: { attempts: 1 } });
	});
});
