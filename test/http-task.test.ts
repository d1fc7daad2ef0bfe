// The `http` task type through the real queue: status classes, Retry-After, timeouts, network
// errors, redirects, signing of the outgoing request, and the allow-list at submit (hostile URLs).
import { describe, expect, it, vi } from "vitest";
import { TaskRecord } from "../src/schemas";
import { api, expectProblem, getTask, submit, waitForTerminal } from "./helpers";
import { never, receiver, verifySignature } from "./outbound-mock";

const json = (value: unknown, init: { status?: number; headers?: Record<string, string> } = {}) =>
	new Response(JSON.stringify(value), { status: init.status, headers: { "content-type": "application/json", ...init.headers } });

/** Polls until the task's status is `status`. */
function waitForStatus(id: string, status: TaskRecord["status"], timeout = 20_000): Promise<TaskRecord> {
	return vi.waitUntil(
		async () => {
			const record = await getTask(id);
			return record.status === status ? record : false;
		},
		{ timeout, interval: 50 },
	);
}

describe("http tasks", () => {
	it("sends the request signed, and a 2xx succeeds with {status, headers, body}", async () => {
		const target = receiver(() => json({ accepted: true }, { status: 201, headers: { "x-request-id": "r-1", "set-cookie": "s=1" } }));
		const task = await submit({
			type: "http",
			payload: { url: `${target.url}?q=1`, headers: { "X-Custom": "yes" }, body: { order: 42 } },
		});
		const done = await waitForTerminal(task.id);
		expect(done.status).toBe("succeeded");
		expect(done.result).toEqual({
			status: 201,
			headers: { "content-type": "application/json", "x-request-id": "r-1" },
			body: { accepted: true },
		});
		expect(target.received).toHaveLength(1);
		const [request] = target.received;
		if (!request) throw new Error("no request");
		expect(request.method).toBe("POST");
		expect(request.url).toBe(`${target.url}?q=1`);
		expect(request.body).toBe('{"order":42}');
		expect(request.headers.get("content-type")).toBe("application/json");
		expect(request.headers.get("x-custom")).toBe("yes");
		expect(request.headers.get("taskflare-task-id")).toBe(task.id);
		expect(request.headers.get("webhook-id")).toBe(`task_${task.id}`);
		// Verified by the standardwebhooks library with the Worker's secret.
		verifySignature(request);
	});

	it("sends text bodies as they are, and GET without one; a text answer stays text", async () => {
		const target = receiver(
			(request) => new Response(`got ${request.method} ${request.body}`, { headers: { "content-type": "text/plain" } }),
		);
		const posted = await submit({ type: "http", payload: { url: target.url, body: "plain words" } });
		expect((await waitForTerminal(posted.id)).result).toMatchObject({ status: 200, body: "got POST plain words" });
		const got = await submit({ type: "http", payload: { url: target.url, method: "GET" } });
		expect((await waitForTerminal(got.id)).result).toMatchObject({ body: "got GET " });
		expect(target.received[0]?.headers.get("content-type")).toBe("text/plain; charset=utf-8");
		verifySignature(target.received[0] ?? expect.unreachable());
		verifySignature(target.received[1] ?? expect.unreachable());
	});

	it("retries a 503 and then succeeds", async () => {
		const target = receiver((_, i) => (i === 0 ? new Response("busy", { status: 503 }) : json({ ok: true })));
		const task = await submit({ type: "http", payload: { url: target.url } });
		const done = await waitForTerminal(task.id, 25_000);
		expect(done).toMatchObject({ status: "succeeded", attempts: 2, result: { status: 200, body: { ok: true } } });
		expect(done.attemptHistory[0]).toMatchObject({ outcome: "failed", error: { name: "HttpError", message: "HTTP 503: busy" } });
		// Both attempts carry the same webhook-id (the receiver can de-duplicate), each validly signed.
		expect(target.received.map((r) => r.headers.get("webhook-id"))).toEqual([`task_${task.id}`, `task_${task.id}`]);
		for (const request of target.received) verifySignature(request);
	});

	it.each([408, 429, 500, 502, 503, 504])("retries a %i", async (status) => {
		const target = receiver(() => new Response(null, { status }));
		const task = await submit({ type: "http", payload: { url: target.url }, maxAttempts: 2 });
		const retrying = await waitForStatus(task.id, "retrying");
		expect(retrying.error?.message).toBe(`HTTP ${status}`);
	});

	it.each([400, 401, 403, 404, 409, 422])("fails at once on a %i", async (status) => {
		const target = receiver(() => new Response(`nope ${"x".repeat(500)}`, { status }));
		const task = await submit({ type: "http", payload: { url: target.url }, maxAttempts: 3 });
		const done = await waitForTerminal(task.id);
		expect(done).toMatchObject({ status: "failed", attempts: 1, error: { name: "HttpError" } });
		// The answer's body is quoted, cut short.
		expect(done.error?.message).toMatch(new RegExp(`^HTTP ${status}: nope x+$`));
		expect(done.error?.message.length).toBeLessThan(220);
		expect(target.received).toHaveLength(1);
	});

	it("honours Retry-After (seconds) on a 429", async () => {
		const target = receiver((_, i) => (i === 0 ? new Response(null, { status: 429, headers: { "Retry-After": "7" } }) : json({})));
		const task = await submit({ type: "http", payload: { url: target.url } });
		const retrying = await waitForStatus(task.id, "retrying");
		const [first] = retrying.attemptHistory;
		const waited = Date.parse(first?.retryAt ?? "") - Date.parse(first?.finishedAt ?? "");
		expect(waited).toBeGreaterThanOrEqual(7000);
		expect(waited).toBeLessThan(8000);
	});

	it("honours Retry-After (an HTTP date) on a 503", async () => {
		const at = new Date(Date.now() + 12_000).toUTCString();
		const target = receiver(() => new Response(null, { status: 503, headers: { "Retry-After": at } }));
		const task = await submit({ type: "http", payload: { url: target.url }, maxAttempts: 2 });
		const retrying = await waitForStatus(task.id, "retrying");
		const retryAt = Date.parse(retrying.attemptHistory[0]?.retryAt ?? "");
		// HTTP dates have whole seconds.
		expect(Math.abs(retryAt - Date.parse(at))).toBeLessThan(2000);
	});

	it("retries when the receiver does not answer within timeoutSeconds", async () => {
		const target = receiver(never);
		const task = await submit({ type: "http", payload: { url: target.url, timeoutSeconds: 1 }, maxAttempts: 2 });
		const retrying = await waitForStatus(task.id, "retrying");
		expect(retrying.error).toEqual({ name: "TimeoutError", message: "No response within 1s." });
		expect(target.received[0]?.signal?.aborted).toBe(true);
	});

	it("retries a network error", async () => {
		const target = receiver(() => Promise.reject(new TypeError("Network connection lost.")));
		const task = await submit({ type: "http", payload: { url: target.url }, maxAttempts: 2 });
		const retrying = await waitForStatus(task.id, "retrying");
		expect(retrying.error).toEqual({ name: "NetworkError", message: "The request failed: Network connection lost." });
	});

	it("does not follow a redirect (to another host or anywhere): it fails the task", async () => {
		const target = receiver(() => new Response(null, { status: 302, headers: { Location: "http://169.254.169.254/latest/meta-data" } }));
		const task = await submit({ type: "http", payload: { url: target.url } });
		const done = await waitForTerminal(task.id);
		expect(done).toMatchObject({ status: "failed", attempts: 1 });
		expect(done.error?.message).toContain("redirects are not followed");
		expect(target.received).toHaveLength(1);
	});

	it("fails a response body over 1 MiB without keeping it", async () => {
		const target = receiver(() => new Response("x".repeat(1024 * 1024 + 1)));
		const task = await submit({ type: "http", payload: { url: target.url } });
		const done = await waitForTerminal(task.id);
		expect(done).toMatchObject({ status: "failed", attempts: 1, error: { name: "HttpError" } });
		expect(done.error?.message).toContain("1 MiB");
	});

	it("reaches hosts a wildcard allows (*.example.net)", async () => {
		const target = receiver(() => json({ deep: true }), "a.b.example.net");
		const task = await submit({ type: "http", payload: { url: target.url } });
		expect((await waitForTerminal(task.id)).status).toBe("succeeded");
	});
});

describe("http task submit checks", () => {
	// HTTP_ALLOWED_HOSTS is "api.example.com,*.example.net" (vitest.config.ts).
	const hostile = [
		"http://127.0.0.1/",
		"http://127.1/",
		"http://0x7f.1/",
		"http://0177.0.0.1/",
		"http://2130706433/",
		"http://[::1]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[fe80::1]/",
		"http://169.254.169.254/latest/meta-data",
		"http://10.0.0.1/",
		"http://192.168.1.1/",
		"http://localhost/",
		"http://api.example.com@evil.com/",
		"http://user:pass@api.example.com/",
		"http://evil.com#@api.example.com/",
		"http://api.example.com.evil.com/",
		"http://example.net/",
		"http://evilexample.net/",
		"ftp://api.example.com/",
		"file:///etc/passwd",
		"not a url",
	];

	it.each(hostile)("refuses %s with a 422 at payload.url", async (url) => {
		const response = await api("/v1/tasks", { json: { type: "http", payload: { url } } });
		const problem = await expectProblem(response, 422);
		expect(problem.errors?.map((e) => e.path)).toEqual(["payload.url"]);
	});

	it("accepts the same host spelled with a trailing dot or in capitals", async () => {
		for (const url of ["https://API.example.com./x", "https://x.EXAMPLE.net/"]) {
			const response = await api("/v1/tasks", { json: { type: "http", payload: { url }, delaySeconds: 3600 } });
			expect(response.status, url).toBe(202);
		}
	});

	it("checks every item of a batch and a schedule's task at their paths", async () => {
		const batch = await api("/v1/tasks/batch", {
			json: { tasks: [{ type: "echo" }, { type: "http", payload: { url: "http://127.1/" } }] },
		});
		expect((await expectProblem(batch, 422)).errors?.map((e) => e.path)).toEqual(["tasks.1.payload.url"]);
		const schedule = await api(`/v1/schedules/http-${crypto.randomUUID().slice(0, 8)}`, {
			method: "PUT",
			json: { every: 60, task: { type: "http", payload: { url: "http://[::1]/" } } },
		});
		expect((await expectProblem(schedule, 422)).errors?.map((e) => e.path)).toEqual(["task.payload.url"]);
	});

	it("refuses headers taskflare sets, GET with a body, and a timeout over 300 s", async () => {
		const url = "https://api.example.com/x";
		const cases: [unknown, string][] = [
			[{ url, headers: { "Webhook-Signature": "v1,forged" } }, "payload.headers.Webhook-Signature"],
			[{ url, headers: { Host: "evil.com" } }, "payload.headers.Host"],
			[{ url, headers: { "X-Bad": "a\r\nInjected: yes" } }, "payload.headers.X-Bad"],
			[{ url, method: "GET", body: "x" }, "payload.body"],
			[{ url, timeoutSeconds: 301 }, "payload.timeoutSeconds"],
		];
		for (const [payload, path] of cases) {
			const problem = await expectProblem(await api("/v1/tasks", { json: { type: "http", payload } }), 422);
			expect(
				problem.errors?.map((e) => e.path),
				path,
			).toContain(path);
		}
	});
});
