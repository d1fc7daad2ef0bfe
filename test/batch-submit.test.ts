// POST /v1/tasks/batch: in-order records, all-or-nothing validation.
import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TaskRecordList } from "../src/schemas";
import { api, expectProblem, waitForTerminal } from "./helpers";

describe("POST /v1/tasks/batch", () => {
	it("records and enqueues every task, answering the records in request order", async () => {
		const tasks = [
			{ type: "echo", payload: { i: 0 } },
			{ type: "sha256", payload: { text: "abc" } },
			{ type: "echo", payload: { i: 2 }, delaySeconds: 3600 },
		];
		const response = await api("/v1/tasks/batch", { json: { tasks } });
		expect(response.status).toBe(202);
		const { tasks: records } = TaskRecordList.parse(await response.json());
		expect(records.map((r) => [r.type, r.status])).toEqual([
			["echo", "queued"],
			["sha256", "queued"],
			["echo", "queued"],
		]);
		expect(records[2]?.runAt).toBeDefined();
		expect(await waitForTerminal(records[0]?.id ?? "")).toMatchObject({ status: "succeeded", result: { i: 0 } });
		expect(await waitForTerminal(records[1]?.id ?? "")).toMatchObject({ status: "succeeded" });
	});

	it("accepts 100 tasks", async () => {
		const tasks = Array.from({ length: 100 }, (_, i) => ({ type: "echo", payload: { i } }));
		const response = await api("/v1/tasks/batch", { json: { tasks } });
		expect(response.status).toBe(202);
		const { tasks: records } = TaskRecordList.parse(await response.json());
		expect(records.map((r) => r.payload)).toEqual(tasks.map((t) => t.payload));
		expect(new Set(records.map((r) => r.id)).size).toBe(100);
	});

	it("creates nothing when any item is invalid, and names every bad item", async () => {
		const before = (await listDurableObjectIds(env.TASK_OBJECT)).length;
		const tasks = [{ type: "echo" }, { type: "sleep", payload: { ms: 5 } }, { type: "sleep", payload: { ms: -5 } }, { type: "nope" }];
		const problem = await expectProblem(await api("/v1/tasks/batch", { json: { tasks } }), 422);
		expect(problem.errors?.map((e) => e.path)).toEqual(["tasks.2.payload.ms", "tasks.3.type"]);
		expect((await listDurableObjectIds(env.TASK_OBJECT)).length).toBe(before);
	});

	it("reports every item's problems in one 422, even when one item fails the envelope", async () => {
		const tasks = [
			{ type: "echo", maxAttempts: 0 },
			{ type: "nope" },
			{ type: "sleep", payload: { ms: -1 }, tags: ["a b"] },
			{ type: "also-unknown", delaySeconds: -1 },
			{ type: "echo" },
		];
		const problem = await expectProblem(await api("/v1/tasks/batch", { json: { tasks } }), 422);
		expect(problem.errors?.map((e) => e.path).sort()).toEqual(
			["tasks.0.maxAttempts", "tasks.1.type", "tasks.2.tags.0", "tasks.3.delaySeconds", "tasks.3.type"].sort(),
		);
	});

	it.each([
		["no tasks", { tasks: [] }, "tasks"],
		["101 tasks", { tasks: Array.from({ length: 101 }, () => ({ type: "echo" })) }, "tasks"],
		["an unknown item field", { tasks: [{ type: "echo", when: 1 }] }, "tasks.0.when"],
		["an unknown top-level field", { tasks: [{ type: "echo" }], extra: true }, "extra"],
	])("answers 422 for %s", async (_, body, path) => {
		const problem = await expectProblem(await api("/v1/tasks/batch", { json: body }), 422);
		expect(problem.errors?.map((e) => e.path)).toContain(path);
	});
});
