// The HTTP contract of /v1/tasks, /v1/task-types, /healthz and errors, through the Worker's fetch.
import { describe, expect, it } from "vitest";
import { TaskTypeList } from "../src/schemas";
import { api, expectProblem, getTask, submit, waitForTerminal } from "./helpers";

describe("health and auth", () => {
	it("serves /healthz without a token", async () => {
		const response = await api("/healthz", { token: null });
		expect(response.status).toBe(200);
		expect(await response.json()).toEqual({ status: "ok" });
	});

	it.each([
		["no token", null],
		["a wrong token", "wrong-token"],
		["a token that is a prefix", "test-toke"],
	])("answers 401 with a Bearer challenge for %s", async (_, token) => {
		for (const path of ["/v1/tasks/x", "/v1/task-types", "/task/x"]) {
			const response = await api(path, { token });
			await expectProblem(response, 401);
			expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
		}
		await expectProblem(await api("/v1/tasks", { token, json: { type: "echo" } }), 401);
		await expectProblem(await api("/process_task", { token, json: {} }), 401);
	});
});

describe("POST /v1/tasks", () => {
	it("records and enqueues a task: 202, Location, queued record", async () => {
		const response = await api("/v1/tasks", { json: { type: "echo", payload: { hello: "world" } } });
		expect(response.status).toBe(202);
		const record = await getTask((await response.json<{ id: string }>()).id);
		expect(response.headers.get("Location")).toBe(`/v1/tasks/${record.id}`);
		expect(record).toMatchObject({ type: "echo", payload: { hello: "world" }, attempts: 0, maxAttempts: 3 });
		expect(record.runAt).toBeUndefined();
	});

	it("runs the task to completion in the background", async () => {
		const { id } = await submit({ type: "echo", payload: { n: 1 } });
		const done = await waitForTerminal(id);
		expect(done).toMatchObject({ status: "succeeded", result: { n: 1 }, attempts: 1 });
		expect(Date.parse(done.finishedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(done.startedAt ?? ""));
	});

	it("defaults the payload to {} and honours maxAttempts", async () => {
		const record = await submit({ type: "echo", maxAttempts: 7 });
		expect(record).toMatchObject({ payload: {}, maxAttempts: 7 });
	});

	it("sets runAt for a delayed task and keeps it queued", async () => {
		const before = Date.now();
		const record = await submit({ type: "echo", delaySeconds: 3600 });
		expect(record.status).toBe("queued");
		expect(Date.parse(record.runAt ?? "")).toBeGreaterThanOrEqual(before + 3600_000);
	});

	it("accepts a payload of almost 1 MiB", async () => {
		const big = "x".repeat(1024 * 1024 - 200);
		const record = await submit({ type: "echo", payload: { big } });
		expect(record.payload).toEqual({ big });
	});

	it("answers 400 for a body that is not JSON", async () => {
		const response = await api("/v1/tasks", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: "{not json",
		});
		await expectProblem(response, 400);
	});

	it("answers 415 unless the body is application/json", async () => {
		const response = await api("/v1/tasks", { method: "POST", headers: { "Content-Type": "text/plain" }, body: "{}" });
		await expectProblem(response, 415);
		await expectProblem(await api("/v1/tasks", { method: "POST", body: "{}" }), 415);
	});

	it("answers 413 for a body over 1 MiB", async () => {
		const response = await api("/v1/tasks", { json: { type: "echo", payload: { big: "x".repeat(1024 * 1024) } } });
		await expectProblem(response, 413);
	});

	it.each([
		["a missing type", { payload: {} }, "type"],
		["an unknown envelope field", { type: "echo", urgency: 1 }, "urgency"],
		["an unknown task type", { type: "nope" }, "type"],
		["a payload failing the type's schema", { type: "sleep", payload: { ms: -1 } }, "payload.ms"],
		["a missing payload field", { type: "sleep" }, "payload.ms"],
		["a non-object echo payload", { type: "echo", payload: [1] }, "payload"],
		["a delay over 365 days", { type: "echo", delaySeconds: 31_536_001 }, "delaySeconds"],
		["a fractional delay", { type: "echo", delaySeconds: 1.5 }, "delaySeconds"],
		["maxAttempts out of range", { type: "echo", maxAttempts: 0 }, "maxAttempts"],
		["a body that is not an object", [1, 2], ""],
	])("answers 422 for %s", async (_, body, path) => {
		const problem = await expectProblem(await api("/v1/tasks", { json: body }), 422);
		expect(problem.errors?.map((e) => e.path)).toContain(path);
	});
});

describe("GET /v1/tasks/{id}", () => {
	it.each([
		["a malformed id", "not-an-id"],
		["an unknown well-formed id", "a".repeat(64)],
		["an id with upper-case hex", "A".repeat(64)],
	])("answers 404 for %s", async (_, id) => {
		await expectProblem(await api(`/v1/tasks/${id}`), 404);
	});

	it("answers 422 for a bad ?wait", async () => {
		const { id } = await submit({ type: "echo" });
		for (const wait of ["-1", "61", "abc", "1.5"]) {
			const problem = await expectProblem(await api(`/v1/tasks/${id}?wait=${wait}`), 422);
			expect(problem.errors?.[0]?.path).toBe("wait");
		}
	});

	it("?wait holds the response until the task is terminal", async () => {
		const { id } = await submit({ type: "sleep", payload: { ms: 300 } });
		const record = await getTask(id, "?wait=20");
		expect(record).toMatchObject({ status: "succeeded", result: { sleptMs: 300 } });
	});

	it("?wait answers with the current record when the time is up", async () => {
		const { id } = await submit({ type: "echo", delaySeconds: 600 });
		const started = Date.now();
		const record = await getTask(id, "?wait=1");
		expect(record.status).toBe("queued");
		expect(Date.now() - started).toBeGreaterThanOrEqual(900);
	});
});

describe("POST /v1/tasks/{id}/cancel", () => {
	it("cancels a queued (delayed) task, idempotently", async () => {
		const { id } = await submit({ type: "echo", delaySeconds: 600 });
		const first = await api(`/v1/tasks/${id}/cancel`, { method: "POST" });
		expect(first.status).toBe(200);
		const cancelled = await getTask(id);
		expect(cancelled.status).toBe("cancelled");
		expect(cancelled.finishedAt).toBeDefined();
		const again = await api(`/v1/tasks/${id}/cancel`, { method: "POST" });
		expect(again.status).toBe(200);
	});

	it("answers 409 for a finished task", async () => {
		const { id } = await submit({ type: "echo" });
		await waitForTerminal(id);
		const problem = await expectProblem(await api(`/v1/tasks/${id}/cancel`, { method: "POST" }), 409);
		expect(problem.detail).toContain("succeeded");
	});

	it("answers 404 for an unknown task", async () => {
		await expectProblem(await api(`/v1/tasks/${"b".repeat(64)}/cancel`, { method: "POST" }), 404);
	});
});

describe("GET /v1/task-types", () => {
	it("lists every shipped type with its JSON Schema", async () => {
		const response = await api("/v1/task-types");
		expect(response.status).toBe(200);
		const { types } = TaskTypeList.parse(await response.json());
		expect(types.map((t) => t.type)).toEqual([
			"echo",
			"sleep",
			"sha256",
			"flaky",
			"fail",
			"limited-concurrency",
			"limited-rate",
			"limited-key",
			"http",
		]);
		const sleep = types.find((t) => t.type === "sleep");
		expect(sleep?.inputSchema).toMatchObject({ type: "object", properties: { ms: { minimum: 0, maximum: 600000 } } });
	});
});

describe("errors", () => {
	it("answers unknown routes with a 404 problem", async () => {
		await expectProblem(await api("/nope"), 404);
		await expectProblem(await api("/v1/nope", { method: "GET" }), 404);
	});
});
