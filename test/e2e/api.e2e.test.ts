// The HTTP API as a client sees it, against a real `wrangler dev` (see global-setup.ts): every
// example task type end to end, delays and cancellation, every error answer, the seed routes.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import {
	MAX_BODY_BYTES,
	MAX_DELAY_SECONDS,
	SeedSubmitResponse,
	SeedTaskResponse,
	type SubmitTaskBody,
	TaskRecord,
	TaskTypeList,
} from "../../src/schemas";
import { type ApiResponse, ApiClient, parseJson, parseProblem } from "./client";

const api = new ApiClient(inject("baseUrl"), inject("apiToken"));

/** How long a task of the examples may take to end (retries included) before a test fails. */
const TASK_DEADLINE_MS = 60_000;

const HealthResponse = z.object({ status: z.literal("ok") });
const TASK_ID = /^[0-9a-f]{64}$/;

afterAll(() => {
	// No request of this file, valid or not, may be answered with a server error.
	expect(api.serverErrors).toEqual([]);
});

/** Submits and waits for the task's terminal record. */
async function runTask(body: SubmitTaskBody): Promise<TaskRecord> {
	const { record } = await api.submit(body);
	return api.waitForTerminal(record.id, TASK_DEADLINE_MS);
}

/** Checks a problem answer's status and kind; returns the problem document. */
function expectProblem(response: ApiResponse, status: number, kind: string) {
	expect(response.status, response.text).toBe(status);
	const problem = parseProblem(response);
	expect(problem.type).toBe(`urn:taskflare:problem:${kind}`);
	return problem;
}

/** A task id nobody created: the right shape, random digits. */
const unknownId = () => randomBytes(32).toString("hex");

/** sha256 applied `iterations` times: first to the UTF-8 text, then to the raw digest. */
function iteratedSha256(text: string, iterations: number): string {
	let digest = createHash("sha256").update(text, "utf8").digest();
	for (let i = 1; i < iterations; i++) digest = createHash("sha256").update(digest).digest();
	return digest.toString("hex");
}

/** A JSON submit body of exactly `bytes` bytes (ASCII), for the size limit. */
function echoBodyOfSize(bytes: number): string {
	const empty = JSON.stringify({ type: "echo", payload: { pad: "" } });
	return JSON.stringify({ type: "echo", payload: { pad: "x".repeat(bytes - empty.length) } });
}

describe("health and authentication", () => {
	it("GET /healthz answers 200 without a token", async () => {
		const response = await api.request("GET", "/healthz", { token: null });
		expect(response.status).toBe(200);
		expect(parseJson(response, HealthResponse)).toEqual({ status: "ok" });
	});

	const someId = unknownId();
	const protectedRoutes: [method: string, path: string][] = [
		["GET", "/v1/task-types"],
		["POST", "/v1/tasks"],
		["GET", "/v1/tasks"],
		["GET", "/v1/stats"],
		["GET", `/v1/tasks/${someId}`],
		["POST", `/v1/tasks/${someId}/cancel`],
		["GET", "/v1/no-such-route"],
		["POST", "/process_task"],
		["GET", `/task/${someId}`],
	];
	describe.each([
		["without a token", null],
		["with a wrong token", "not-the-e2e-token"],
	])("%s", (_label, token) => {
		it.each(protectedRoutes)("%s %s answers 401 with a Bearer challenge", async (method, path) => {
			const response = await api.request(method, path, { token, json: method === "POST" ? { type: "echo" } : undefined });
			expectProblem(response, 401, "unauthorized");
			expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer\b/);
		});
	});

	it("checks the token before the body (401, not 415)", async () => {
		const response = await api.request("POST", "/v1/tasks", { token: null, body: "x", contentType: "text/plain" });
		expectProblem(response, 401, "unauthorized");
	});

	it("accepts the auth scheme in any case", async () => {
		const response = await api.request("GET", "/v1/task-types", {
			token: null,
			headers: { Authorization: `bearer ${inject("apiToken")}` },
		});
		expect(response.status).toBe(200);
	});
});

describe("task types", () => {
	it("lists every example type with its payload JSON Schema", async () => {
		const response = await api.request("GET", "/v1/task-types");
		expect(response.status).toBe(200);
		const { types } = parseJson(response, TaskTypeList);
		const names = types.map((t) => t.type);
		expect(names).toEqual(expect.arrayContaining(["echo", "sleep", "sha256", "flaky", "fail"]));
		expect(new Set(names).size).toBe(names.length);
		for (const info of types) {
			expect(info.description, info.type).not.toBe("");
			expect(info.inputSchema, info.type).toMatchObject({ type: "object" });
			expect(info.maxAttempts, info.type).toBeGreaterThanOrEqual(1);
		}
	});

	it("echo: 202 + Location + queued, then succeeded with the payload as result", async () => {
		const payload = { hello: "world", n: 42, nested: { list: [1, "two", null, true] }, unicode: "héllo ✓ 🚀" };
		const response = await api.request("POST", "/v1/tasks", { json: { type: "echo", payload } });
		expect(response.status, response.text).toBe(202);
		const queued = parseJson(response, TaskRecord);
		expect(queued.id).toMatch(TASK_ID);
		expect(response.headers.get("Location")).toBe(`/v1/tasks/${queued.id}`);
		expect(queued).toMatchObject({ type: "echo", status: "queued", payload, attempts: 0, maxAttempts: 3 });
		expect(queued.result).toBeUndefined();

		// Location is usable as is (relative to the API's origin).
		const byLocation = await api.request("GET", `/v1/tasks/${queued.id}`);
		expect(parseJson(byLocation, TaskRecord).id).toBe(queued.id);

		const done = await api.waitForTerminal(queued.id, TASK_DEADLINE_MS);
		expect(done).toMatchObject({ id: queued.id, status: "succeeded", result: payload, payload, attempts: 1 });
		expect(done.error).toBeUndefined();
		expect(done.startedAt).toBeDefined();
		expect(done.finishedAt).toBeDefined();
		expect(Date.parse(done.finishedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(done.createdAt));
	});

	it("sleep: returns {sleptMs}", async () => {
		const done = await runTask({ type: "sleep", payload: { ms: 200 } });
		expect(done).toMatchObject({ status: "succeeded", result: { sleptMs: 200 }, attempts: 1 });
		// The attempt really took (at least about) that long.
		expect(Date.parse(done.finishedAt ?? "") - Date.parse(done.startedAt ?? "")).toBeGreaterThanOrEqual(190);
	});

	it("sha256: hex digest of the text", async () => {
		const expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
		expect(iteratedSha256("abc", 1)).toBe(expected);
		const done = await runTask({ type: "sha256", payload: { text: "abc" } });
		expect(done).toMatchObject({ status: "succeeded", result: { hex: expected } });
	});

	it("sha256: iterations hash the raw digest again", async () => {
		const done = await runTask({ type: "sha256", payload: { text: "abc", iterations: 2 } });
		expect(done).toMatchObject({ status: "succeeded", result: { hex: iteratedSha256("abc", 2) } });
		expect(iteratedSha256("abc", 2)).not.toBe(iteratedSha256("abc", 1));
	});

	it("flaky: a retryable failure is retried, then succeeds", async () => {
		const done = await runTask({ type: "flaky", payload: { failTimes: 1 } });
		expect(done).toMatchObject({ status: "succeeded", result: { attempts: 2 }, attempts: 2, maxAttempts: 5 });
		expect(done.error).toBeUndefined();
	});

	it("fail: a NonRetryableError fails the task after one attempt", async () => {
		const done = await runTask({ type: "fail", payload: { message: "boom" } });
		expect(done).toMatchObject({ status: "failed", error: { name: "NonRetryableError", message: "boom" }, attempts: 1 });
		expect(done.result).toBeUndefined();
		expect(done.finishedAt).toBeDefined();
	});

	it("fail: a retryable error is retried until maxAttempts, then fails", async () => {
		const done = await runTask({ type: "fail", payload: { message: "x", retryable: true }, maxAttempts: 2 });
		expect(done).toMatchObject({ status: "failed", error: { name: "Error", message: "x" }, attempts: 2, maxAttempts: 2 });
	});

	it("round-trips a ~900 KB echo payload", async () => {
		// Not a repeated character only, so truncation or mangling in the middle would show.
		const block = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_ ✓";
		const payload = { data: block.repeat(Math.ceil((900 * 1024) / block.length)).slice(0, 900 * 1024), tail: "end" };
		const done = await runTask({ type: "echo", payload });
		expect(done.status).toBe("succeeded");
		expect(done.result).toEqual(payload);
		expect(done.payload).toEqual(payload);
	});
});

describe("delayed tasks and cancellation", () => {
	it("a delayed task waits, can be cancelled (idempotently) and stays cancelled", async () => {
		const { record: queued } = await api.submit({ type: "echo", payload: { late: true }, delaySeconds: 30 });
		expect(queued.status).toBe("queued");
		expect(queued.runAt).toBeDefined();
		const delayMs = Date.parse(queued.runAt ?? "") - Date.parse(queued.createdAt);
		expect(delayMs).toBeGreaterThanOrEqual(29_000);
		expect(delayMs).toBeLessThanOrEqual(31_000);

		// ?wait holds the answer for the full time when the task does not end meanwhile.
		const started = performance.now();
		const waited = await api.getTask(queued.id, 2);
		const elapsedMs = performance.now() - started;
		expect(waited).toMatchObject({ id: queued.id, status: "queued", runAt: queued.runAt, attempts: 0 });
		expect(elapsedMs).toBeGreaterThanOrEqual(1_900);
		expect(elapsedMs).toBeLessThan(10_000);

		const cancel = await api.request("POST", `/v1/tasks/${queued.id}/cancel`);
		expect(cancel.status, cancel.text).toBe(200);
		const cancelled = parseJson(cancel, TaskRecord);
		expect(cancelled).toMatchObject({ id: queued.id, status: "cancelled", attempts: 0 });
		expect(cancelled.finishedAt).toBeDefined();

		const again = await api.request("POST", `/v1/tasks/${queued.id}/cancel`);
		expect(again.status, again.text).toBe(200);
		expect(parseJson(again, TaskRecord)).toMatchObject({ status: "cancelled", finishedAt: cancelled.finishedAt });

		// A terminal task answers ?wait at once, and nothing restarts it.
		const afterStarted = performance.now();
		const after = await api.getTask(queued.id, 5);
		expect(performance.now() - afterStarted).toBeLessThan(4_000);
		expect(after).toMatchObject({ status: "cancelled", attempts: 0, finishedAt: cancelled.finishedAt });
		expect(after.result).toBeUndefined();
	});

	it("cancelling a succeeded task answers 409 and changes nothing", async () => {
		const done = await runTask({ type: "echo", payload: { finished: true } });
		expect(done.status).toBe("succeeded");
		const problem = expectProblem(await api.request("POST", `/v1/tasks/${done.id}/cancel`), 409, "conflict");
		expect(problem.detail).toContain("succeeded");
		expect(await api.getTask(done.id)).toEqual(done);
	});

	it("cancelling an unknown task answers 404", async () => {
		expectProblem(await api.request("POST", `/v1/tasks/${unknownId()}/cancel`), 404, "not-found");
	});
});

describe("request errors", () => {
	it("400 for malformed JSON", async () => {
		for (const body of ['{"type":', "", '{"type":"echo"} trailing']) {
			const response = await api.request("POST", "/v1/tasks", { body, contentType: "application/json" });
			expectProblem(response, 400, "bad-request");
		}
	});

	it("413 for a body over 1 MiB (with Content-Length)", async () => {
		const body = echoBodyOfSize(MAX_BODY_BYTES + 1);
		expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES + 1);
		expectProblem(await api.request("POST", "/v1/tasks", { body, contentType: "application/json" }), 413, "payload-too-large");
	});

	it("413 for a chunked body over 1 MiB (no Content-Length)", async () => {
		const body = echoBodyOfSize(MAX_BODY_BYTES + 1);
		const chunks = Array.from({ length: Math.ceil(body.length / 65_536) }, (_, i) => body.slice(i * 65_536, (i + 1) * 65_536));
		expectProblem(await api.postChunked("/v1/tasks", "application/json", chunks), 413, "payload-too-large");
	});

	it("accepts a body of exactly 1 MiB", async () => {
		const body = echoBodyOfSize(MAX_BODY_BYTES);
		const response = await api.request("POST", "/v1/tasks", { body, contentType: "application/json" });
		expect(response.status, response.text.slice(0, 300)).toBe(202);
		const done = await api.waitForTerminal(parseJson(response, TaskRecord).id, TASK_DEADLINE_MS);
		expect(done.status).toBe("succeeded");
	});

	it.each(["text/plain", "application/x-www-form-urlencoded", "application/jsonx"])("415 for Content-Type %s", async (contentType) => {
		const response = await api.request("POST", "/v1/tasks", { body: '{"type":"echo"}', contentType });
		expectProblem(response, 415, "unsupported-media-type");
	});

	it("accepts JSON media types with parameters", async () => {
		const response = await api.request("POST", "/v1/tasks", {
			body: '{"type":"echo"}',
			contentType: "application/json; charset=utf-8",
		});
		expect(response.status, response.text).toBe(202);
	});

	it.each<[label: string, body: unknown, path: string]>([
		["an unknown envelope field", { type: "echo", payload: {}, bogus: 1 }, "bogus"],
		["an unknown type", { type: "no-such-type", payload: {} }, "type"],
		["a missing type", { payload: {} }, "type"],
		["a payload failing its schema", { type: "sleep", payload: { ms: -1 } }, "payload.ms"],
		["an unknown payload field", { type: "sleep", payload: { ms: 1, extra: true } }, "payload.extra"],
		["a payload of the wrong kind", { type: "echo", payload: [1, 2] }, "payload"],
		["a negative delay", { type: "echo", delaySeconds: -1 }, "delaySeconds"],
		["a delay over the maximum", { type: "echo", delaySeconds: MAX_DELAY_SECONDS + 1 }, "delaySeconds"],
		["maxAttempts 0", { type: "echo", maxAttempts: 0 }, "maxAttempts"],
		["a body that is not an object", [{ type: "echo" }], ""],
	])("422 for %s (error path %j)", async (_label, body, path) => {
		const problem = expectProblem(await api.request("POST", "/v1/tasks", { json: body }), 422, "validation-failed");
		expect(problem.errors?.map((e) => e.path)).toEqual([path]);
		expect(problem.errors?.[0]?.message).not.toBe("");
	});

	it.each(["61", "-1", "1.5", "soon", "0x10", "1e1", ""])("422 for ?wait=%s", async (wait) => {
		const response = await api.request("GET", `/v1/tasks/${unknownId()}?wait=${wait}`);
		const problem = expectProblem(response, 422, "validation-failed");
		expect(problem.errors?.map((e) => e.path)).toEqual(["wait"]);
	});

	it("404 for unknown routes", async () => {
		expectProblem(await api.request("GET", "/no-such-route", { token: null }), 404, "not-found");
		expectProblem(await api.request("GET", "/v1/no-such-route"), 404, "not-found");
	});

	it("405 with Allow for a known path and another method", async () => {
		const response = await api.request("PUT", `/v1/tasks/${unknownId()}`);
		expectProblem(response, 405, "method-not-allowed");
		expect(response.headers.get("Allow")).toContain("GET");
	});

	it.each([
		["a malformed id", "not-a-task-id"],
		["an upper-case id", unknownId().toUpperCase()],
		["an id one digit short", unknownId().slice(1)],
		["a well-formed unknown id", unknownId()],
		["an all-zero id", "0".repeat(64)],
	])("404 for %s", async (_label, id) => {
		expectProblem(await api.request("GET", `/v1/tasks/${id}`), 404, "not-found");
		expectProblem(await api.request("GET", `/v1/tasks/${id}?wait=1`), 404, "not-found");
		expectProblem(await api.request("POST", `/v1/tasks/${id}/cancel`), 404, "not-found");
		expectProblem(await api.request("GET", `/task/${id}`), 404, "not-found");
	});
});

describe("seed-compatible routes", () => {
	it("POST /process_task enqueues an echo; GET /task/{id} shows status and result", async () => {
		const response = await api.request("POST", "/process_task", { json: { a: 1 } });
		expect(response.status, response.text).toBe(202);
		const submitted = parseJson(response, SeedSubmitResponse);
		expect(submitted.message).not.toBe("");
		expect(submitted.id).toMatch(TASK_ID);

		// Right after submit: any status, and a null result unless it already succeeded.
		const early = parseJson(await api.request("GET", `/task/${submitted.id}`), SeedTaskResponse);
		expect(early.id).toBe(submitted.id);
		if (early.status !== "succeeded") expect(early.result).toBeNull();

		// It is an ordinary task: wait on it through /v1, then read it through the seed route.
		expect((await api.waitForTerminal(submitted.id, TASK_DEADLINE_MS)).type).toBe("echo");
		const final = await api.request("GET", `/task/${submitted.id}`);
		expect(final.status).toBe(200);
		expect(parseJson(final, SeedTaskResponse)).toEqual({ id: submitted.id, status: "succeeded", result: { a: 1 } });
	});

	it("POST /process_task rejects bad bodies with 400/415/422", async () => {
		const malformed = await api.request("POST", "/process_task", { body: "{", contentType: "application/json" });
		expectProblem(malformed, 400, "bad-request");
		const notJson = await api.request("POST", "/process_task", { body: "{}", contentType: "text/plain" });
		expectProblem(notJson, 415, "unsupported-media-type");
		expectProblem(await api.request("POST", "/process_task", { json: [1, 2] }), 422, "validation-failed");
	});
});

// Payloads at the edges of JSON: stored and echoed exactly as sent, never a 5xx.
describe("payload edge cases", () => {
	it("accepts a deeply nested (2000 levels) payload and echoes it back", async () => {
		const deep = `${"[".repeat(2000)}${"]".repeat(2000)}`;
		const response = await api.request("POST", "/v1/tasks", {
			body: `{"type":"echo","payload":{"deep":${deep}}}`,
			contentType: "application/json",
		});
		expect(response.status, response.text).toBe(202);
		const { id } = parseJson(response, z.object({ id: z.string() }));
		await api.waitForTerminal(id, TASK_DEADLINE_MS);
		const done = await api.request("GET", `/v1/tasks/${id}`);
		expect(done.text).toContain(`"result":{"deep":${deep}}`);
	});

	it("accepts a deeply nested object on the seed route", async () => {
		const deep = `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`;
		const response = await api.request("POST", "/process_task", { body: deep, contentType: "application/json" });
		expect(response.status, response.text).toBe(202);
	});

	it('keeps a "__proto__" key in the payload and the result', async () => {
		const response = await api.request("POST", "/v1/tasks", {
			// Raw text: a JS object literal cannot carry an own "__proto__" key through JSON.stringify.
			body: '{"type":"echo","payload":{"__proto__":{"x":1},"y":2}}',
			contentType: "application/json",
		});
		expect(response.status, response.text).toBe(202);
		expect(response.text).toContain('"payload":{"__proto__":{"x":1},"y":2}');
		const { id } = parseJson(response, z.object({ id: z.string() }));
		await api.waitForTerminal(id, TASK_DEADLINE_MS);
		expect((await api.request("GET", `/v1/tasks/${id}`)).text).toContain('"result":{"__proto__":{"x":1},"y":2}');
	});

	it("checks an explicit null payload against the type (echo needs an object)", async () => {
		const response = await api.request("POST", "/v1/tasks", { body: '{"type":"echo","payload":null}', contentType: "application/json" });
		expect(response.status, response.text).toBe(422);
		expect(parseProblem(response).errors?.[0]?.path).toBe("payload");
	});
});
