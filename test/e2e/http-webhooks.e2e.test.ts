// HTTP tasks and completion callbacks against a real `wrangler dev`, with a receiver on 127.0.0.1
// (webhook-receiver.ts) that verifies every signature with the `standardwebhooks` library and
// with the README's snippets (TypeScript always; Python when python3 is installed).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { REPO_ROOT } from "../../scripts/dev-server";
import { TaskRecord } from "../../src/schemas";
import { ApiClient, parseJson, parseProblem } from "./client";
import { type Received, WebhookReceiver } from "./webhook-receiver";

const api = new ApiClient(inject("baseUrl"), inject("apiToken"));
const secret = inject("webhookSecret");
const receiver = new WebhookReceiver(secret);
const DEADLINE_MS = 60_000;

beforeAll(() => receiver.start());
afterAll(async () => {
	await receiver.stop();
	expect(api.serverErrors).toEqual([]);
});

async function submit(body: unknown): Promise<TaskRecord> {
	const response = await api.request("POST", "/v1/tasks", { json: body });
	expect(response.status, response.text).toBe(202);
	return parseJson(response, TaskRecord);
}

/** Polls until `check` holds for the task's record. */
async function waitFor(id: string, check: (record: TaskRecord) => boolean, what: string): Promise<TaskRecord> {
	const deadline = Date.now() + DEADLINE_MS;
	for (;;) {
		const record = await api.getTask(id);
		if (check(record)) return record;
		if (Date.now() > deadline) throw new Error(`task ${id}: no ${what} within ${DEADLINE_MS} ms (now ${JSON.stringify(record)})`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}
const callbackDelivered = (id: string) => waitFor(id, (r) => r.callback?.state === "delivered", "delivered callback");

function expectVerified(requests: readonly Received[]): void {
	expect(requests.length).toBeGreaterThan(0);
	for (const request of requests) {
		expect(request.libraryVerified, `standardwebhooks verifies ${request.headers["webhook-id"]}`).toBe(true);
		expect(request.snippetVerified, `the README's snippet verifies ${request.headers["webhook-id"]}`).toBe(true);
	}
}

describe("http tasks", () => {
	it("succeed with the receiver's answer, signed", async () => {
		const target = receiver.route(() => ({ status: 200, body: '{"charged":true}', headers: { "content-type": "application/json" } }));
		const task = await submit({ type: "http", payload: { url: target.url, body: { order: 7 } } });
		const done = await api.waitForTerminal(task.id, DEADLINE_MS);
		expect(done).toMatchObject({ status: "succeeded", attempts: 1, result: { status: 200, body: { charged: true } } });
		expect(target.received).toHaveLength(1);
		expect(target.received[0]).toMatchObject({ method: "POST", body: '{"order":7}' });
		expectVerified(target.received);
	});

	it("retry on 503, then succeed", async () => {
		const target = receiver.route((i) => (i === 0 ? { status: 503, body: "warming up" } : { status: 200, body: "done" }));
		const task = await submit({ type: "http", payload: { url: target.url } });
		const done = await api.waitForTerminal(task.id, DEADLINE_MS);
		expect(done).toMatchObject({ status: "succeeded", attempts: 2, result: { status: 200, body: "done" } });
		expect(done.attemptHistory[0]?.error).toEqual({ name: "HttpError", message: "HTTP 503 Service Unavailable: warming up" });
		expect(target.received).toHaveLength(2);
		expectVerified(target.received);
	});

	it("fail at once on 400", async () => {
		const target = receiver.route(() => ({ status: 400, body: "missing field" }));
		const task = await submit({ type: "http", payload: { url: target.url } });
		const done = await api.waitForTerminal(task.id, DEADLINE_MS);
		expect(done).toMatchObject({
			status: "failed",
			attempts: 1,
			error: { name: "HttpError", message: "HTTP 400 Bad Request: missing field" },
		});
		expect(target.received).toHaveLength(1);
	});

	it("refuse a host outside HTTP_ALLOWED_HOSTS at submit with a 422", async () => {
		for (const url of ["http://localhost:9/", "http://169.254.169.254/", "http://127.0.0.1.nip.io/", "http://127.0.0.1@evil.example/"]) {
			const response = await api.request("POST", "/v1/tasks", { json: { type: "http", payload: { url } } });
			expect(response.status, url).toBe(422);
			expect(parseProblem(response).errors?.map((e) => e.path)).toEqual(["payload.url"]);
		}
		const callback = await api.request("POST", "/v1/tasks", { json: { type: "echo", callback: { url: "http://[::1]:9/" } } });
		expect(callback.status).toBe(422);
		expect(parseProblem(callback).errors?.map((e) => e.path)).toEqual(["callback.url"]);
	});
});

describe("completion callbacks", () => {
	it("arrive once per final state, signed, with the final record", async () => {
		const hook = receiver.route();
		const succeeded = await submit({ type: "echo", payload: { n: 1 }, callback: { url: hook.url } });
		const failed = await submit({ type: "fail", payload: { message: "no" }, callback: { url: hook.url } });
		const cancelled = await submit({ type: "echo", delaySeconds: 3600, callback: { url: hook.url } });
		expect((await api.request("POST", `/v1/tasks/${cancelled.id}/cancel`)).status).toBe(200);
		for (const task of [succeeded, failed, cancelled]) await callbackDelivered(task.id);
		expectVerified(hook.received);
		const bodies = hook.received.map((r) => TaskRecord.parse(JSON.parse(r.body)));
		expect(Object.fromEntries(bodies.map((b) => [b.id, b.status]))).toEqual({
			[succeeded.id]: "succeeded",
			[failed.id]: "failed",
			[cancelled.id]: "cancelled",
		});
		// Once each: three deliveries, three distinct webhook-ids.
		expect(hook.received).toHaveLength(3);
		expect(new Set(hook.received.map((r) => r.headers["webhook-id"])).size).toBe(3);
	});

	it("are retried when the receiver first answers 500", async () => {
		const hook = receiver.route((i) => ({ status: i === 0 ? 500 : 200 }));
		const task = await submit({ type: "echo", callback: { url: hook.url } });
		const record = await callbackDelivered(task.id);
		expect(record.status).toBe("succeeded");
		expect(record.callback?.deliveries.map((d) => [d.attempt, d.statusCode])).toEqual([
			[1, 500],
			[2, 200],
		]);
		expect(hook.received).toHaveLength(2);
		expect(hook.received[0]?.headers["webhook-id"]).toBe(hook.received[1]?.headers["webhook-id"]);
		expectVerified(hook.received);
	});

	// CI machines have python3 (Debian's); a missing one fails here rather than skipping the check.
	it("verify with the README's Python snippet", async () => {
		const python = spawnSync("python3", ["--version"]);
		expect(python.error, "python3 must be installed to check the README's Python snippet").toBeUndefined();
		const hook = receiver.route();
		const task = await submit({ type: "echo", payload: { text: "grüße ✓" }, callback: { url: hook.url } });
		await callbackDelivered(task.id);
		const [request] = hook.received;
		if (!request) throw new Error("no callback arrived");
		const verify = (body: string) => {
			const script = [
				"import json, sys",
				`sys.path.insert(0, ${JSON.stringify(path.join(REPO_ROOT, "examples"))})`,
				"from verify_webhook import verify_webhook",
				"d = json.load(sys.stdin)",
				"print(verify_webhook(d['secret'], d['headers'], d['body'].encode('utf-8')))",
			].join("\n");
			const run = spawnSync("python3", ["-c", script], {
				input: JSON.stringify({ secret, headers: request.headers, body }),
				encoding: "utf8",
			});
			expect(run.stderr).toBe("");
			return run.stdout.trim();
		};
		expect(verify(request.body)).toBe("True");
		expect(verify(request.body.replace("grüße", "grusse"))).toBe("False");
	});

	it("the README shows the verification snippets these tests run, verbatim", () => {
		const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
		for (const file of ["verify-webhook.ts", "verify_webhook.py"]) {
			const snippet = readFileSync(path.join(REPO_ROOT, "examples", file), "utf8").trim();
			expect(readme.includes(snippet), `README.md shows examples/${file} verbatim`).toBe(true);
		}
	});
});
