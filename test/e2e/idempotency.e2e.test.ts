// Issue 15, defect 8, against a real `wrangler dev` over plain HTTP: an Idempotency-Key on
// `POST /v1/tasks/batch` (covering the whole batch) and on `POST /process_task` creates one set of
// tasks however often it is sent; the same key with a changed body is a 422.
import { afterAll, describe, expect, inject, it } from "vitest";
import { createClient, TaskflareError } from "../../src/client";
import { SeedSubmitResponse, TaskRecordList } from "../../src/schemas";
import { ApiClient, parseJson, parseProblem } from "./client";

const api = new ApiClient(inject("baseUrl"), inject("apiToken"));
const DEADLINE_MS = 60_000;

afterAll(() => {
	expect(api.serverErrors).toEqual([]);
});

describe("Idempotency-Key on the batch and seed routes", () => {
	it("POST /v1/tasks/batch: the same key twice creates one set of tasks; a changed body is a 422", async () => {
		const key = `e2e-batch-${crypto.randomUUID()}`;
		const headers = { "Idempotency-Key": key };
		const body = {
			tasks: [
				{ type: "echo", payload: { n: 1 } },
				{ type: "flaky", payload: { failTimes: 0 } },
			],
		};
		const first = await api.request("POST", "/v1/tasks/batch", { json: body, headers });
		expect(first.status, first.text).toBe(202);
		const ids = parseJson(first, TaskRecordList).tasks.map((t) => t.id);

		// The same batch with its keys in another order is the same request.
		const reordered = {
			tasks: [
				{ payload: { n: 1 }, type: "echo" },
				{ payload: { failTimes: 0 }, type: "flaky" },
			],
		};
		const again = await api.request("POST", "/v1/tasks/batch", { json: reordered, headers });
		expect(again.status, again.text).toBe(200);
		expect(again.headers.get("Idempotent-Replayed")).toBe("true");
		expect(parseJson(again, TaskRecordList).tasks.map((t) => t.id)).toEqual(ids);

		const changed = await api.request("POST", "/v1/tasks/batch", {
			json: { tasks: [...body.tasks, { type: "echo" }] },
			headers,
		});
		expect(changed.status).toBe(422);
		expect(parseProblem(changed).errors?.[0]?.path).toBe("Idempotency-Key");

		// Each task of the one set ran once.
		const done = await Promise.all(ids.map((id) => api.waitForTerminal(id, DEADLINE_MS)));
		expect(done.map((t) => [t.status, t.attempts])).toEqual([
			["succeeded", 1],
			["succeeded", 1],
		]);
	});

	it("POST /process_task: the same key twice creates one task; a changed body is a 422", async () => {
		const key = `e2e-seed-${crypto.randomUUID()}`;
		const headers = { "Idempotency-Key": key };
		const first = await api.request("POST", "/process_task", { json: { order: 42 }, headers });
		expect(first.status, first.text).toBe(202);
		const { id } = parseJson(first, SeedSubmitResponse);
		const again = await api.request("POST", "/process_task", { json: { order: 42 }, headers });
		expect(again.status, again.text).toBe(200);
		expect(again.headers.get("Idempotent-Replayed")).toBe("true");
		expect(parseJson(again, SeedSubmitResponse).id).toBe(id);
		const changed = await api.request("POST", "/process_task", { json: { order: 43 }, headers });
		expect(changed.status).toBe(422);
		expect(parseProblem(changed).errors?.[0]?.path).toBe("Idempotency-Key");
		expect(await api.waitForTerminal(id, DEADLINE_MS)).toMatchObject({ status: "succeeded", attempts: 1, result: { order: 42 } });
	});

	it("the typed client's submitBatch sends the key: a repeat returns the same tasks", async () => {
		const client = createClient({ baseUrl: inject("baseUrl"), token: inject("apiToken") });
		const idempotencyKey = `e2e-client-${crypto.randomUUID()}`;
		const tasks = [{ type: "echo", payload: { via: "client" } }];
		const first = await client.submitBatch(tasks, { idempotencyKey });
		const again = await client.submitBatch(tasks, { idempotencyKey });
		expect(again.map((t) => t.id)).toEqual(first.map((t) => t.id));
		const changed = await client
			.submitBatch([{ type: "echo", payload: { via: "other" } }], { idempotencyKey })
			.catch((error: unknown) => error);
		expect(changed).toBeInstanceOf(TaskflareError);
		expect(changed instanceof TaskflareError && changed.status).toBe(422);
	});
});
