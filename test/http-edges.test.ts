// The edges of the HTTP API: 405 with Allow for a known path, headers on every answer that
// depends on the token, the /docs page's Content-Security-Policy, and strict ?wait parsing.
import { describe, expect, it } from "vitest";
import { api, expectProblem, submit } from "./helpers";

const TASK = `/v1/tasks/${"a".repeat(64)}`;

describe("405 Method Not Allowed", () => {
	it.each<[method: string, path: string, allow: string[]]>([
		["PUT", "/v1/tasks", ["POST"]],
		["PUT", TASK, ["GET", "HEAD"]],
		["PATCH", `${TASK}/cancel`, ["POST"]],
		["GET", `${TASK}/cancel`, ["POST"]],
		["POST", `${TASK}/events`, ["GET", "HEAD"]],
		["PATCH", "/v1/task-types", ["GET", "HEAD"]],
		["GET", "/process_task", ["POST"]],
		["POST", "/task/abc", ["GET", "HEAD"]],
		["POST", "/healthz", ["GET", "HEAD"]],
		["OPTIONS", "/openapi.json", ["GET", "HEAD"]],
	])("%s %s answers 405 with the path's methods in Allow", async (method, path, allow) => {
		const response = await api(path, { method });
		const problem = await expectProblem(response, 405);
		expect(problem.type).toBe("urn:taskflare:problem:method-not-allowed");
		// Contains rather than equals: new routes may add methods to a path.
		const header = response.headers.get("Allow")?.split(/,\s*/) ?? [];
		expect(header).toEqual(expect.arrayContaining(allow));
		expect(header).not.toContain(method);
	});

	it("keeps 404 for unknown paths, and 401 before 405 without a token", async () => {
		await expectProblem(await api("/v1/nothing-here", { method: "DELETE" }), 404);
		await expectProblem(await api("/v1/tasks/", { method: "GET" }), 404);
		await expectProblem(await api("/v1/tasks", { method: "DELETE", token: null }), 401);
	});
});

describe("headers of answers that depend on the token", () => {
	it("carry Cache-Control: no-store and X-Content-Type-Options: nosniff, errors included", async () => {
		const { id } = await submit({ type: "echo", payload: { secret: 1 } });
		const answers = await Promise.all([
			api(`/v1/tasks/${id}`),
			api("/v1/task-types"),
			api(`/task/${id}`),
			api(`/v1/tasks/${"f".repeat(64)}`),
			api("/v1/tasks", { json: { type: "nope" } }),
			api("/v1/tasks", { token: "wrong", json: { type: "echo" } }),
			api("/v1/tasks", { method: "PUT" }),
		]);
		for (const response of answers) {
			expect(response.headers.get("Cache-Control"), response.url).toBe("no-store");
			expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
			await response.body?.cancel();
		}
	});

	it("are set on the event stream too", async () => {
		const { id } = await submit({ type: "echo", delaySeconds: 3600 });
		const response = await api(`/v1/tasks/${id}/events`);
		expect(response.headers.get("Cache-Control")).toBe("no-store");
		expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
		await response.body?.cancel();
	});

	it("public answers get nosniff", async () => {
		const response = await api("/healthz", { token: null });
		expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
	});
});

describe("GET /docs", () => {
	it("has a Content-Security-Policy that allows only its own inline style and no framing", async () => {
		const response = await api("/docs", { token: null });
		expect(response.status).toBe(200);
		const policy = response.headers.get("Content-Security-Policy") ?? "";
		expect(policy).toContain("frame-ancestors 'none'");
		expect(policy).toContain("default-src 'none'");
		expect(response.headers.get("X-Frame-Options")).toBe("DENY");
		const html = await response.text();
		// No scripts at all, and the one <style> is the one the policy allows by hash.
		expect(html).not.toMatch(/<script|\son[a-z]+=|\sstyle=/i);
		const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1] ?? "");
		expect(styles).toHaveLength(1);
		const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(styles[0]));
		const hash = btoa(String.fromCharCode(...new Uint8Array(digest)));
		expect(policy).toContain(`style-src 'sha256-${hash}'`);
	});
});

describe("?wait", () => {
	it.each(["0x10", "1e1", "", " 5", "+5", "5.0", "61", "-1", "Infinity"])("?wait=%j is a 422", async (wait) => {
		const { id } = await submit({ type: "echo", delaySeconds: 3600 });
		const problem = await expectProblem(await api(`/v1/tasks/${id}?wait=${encodeURIComponent(wait)}`), 422);
		expect(problem.errors?.map((e) => e.path)).toEqual(["wait"]);
	});

	it("takes digits", async () => {
		const { id } = await submit({ type: "echo", delaySeconds: 3600 });
		for (const wait of ["0", "00", "1"]) expect((await api(`/v1/tasks/${id}?wait=${wait}`)).status).toBe(200);
	});
});
