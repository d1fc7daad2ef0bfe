// The dashboard's limits page inside workerd: closed without a session, every limited type with
// its limits in effect (an override marked), the permits in use and the tasks waiting, as
// GET /v1/limits reports them.
import { exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createSessionValue, SESSION_COOKIE } from "../src/dashboard/session";
import { LimitList } from "../src/limit-schemas";
import { api, submit, TOKEN } from "./helpers";

const ORIGIN = "https://taskflare.test";

async function page(path: string, signedIn = true): Promise<Response> {
	const headers = new Headers();
	if (signedIn) headers.set("Cookie", `${SESSION_COOKIE}=${await createSessionValue(TOKEN)}`);
	return exports.default.fetch(new Request(`${ORIGIN}${path}`, { headers, redirect: "manual" }));
}

async function limitsHtml(): Promise<string> {
	const response = await page("/dashboard/limits");
	expect(response.status).toBe(200);
	return response.text();
}

/** The table row of a task type. */
const rowOf = (html: string, type: string) => new RegExp(`<tr data-limit-type="${type}">[\\s\\S]*?</tr>`).exec(html)?.[0] ?? "";

describe("dashboard limits page", () => {
	it("sends a visitor without a session to sign-in", async () => {
		const response = await page("/dashboard/limits", false);
		expect(response.status).toBe(303);
		expect(response.headers.get("Location")).toBe(`/dashboard/sign-in?next=${encodeURIComponent("/dashboard/limits")}`);
	});

	it("lists each limited type with its limits, and the types without limits apart", async () => {
		const html = await limitsHtml();
		expect(html).toContain('href="/dashboard/limits" aria-current="page"');
		expect(rowOf(html, "limited-concurrency")).toContain("<td>3 at once</td>");
		expect(rowOf(html, "limited-rate")).toContain("<td>5 per 1 s</td>");
		const key = rowOf(html, "limited-key");
		expect(key).toContain("<td>2 at once</td>");
		expect(key).toContain("0 active: 0 running, 0 waiting");
		expect(rowOf(html, "echo")).toBe("");
		expect(html).toMatch(/Without limits: [^<]*\becho\b/);
		// No inline scripts, styles or handlers (the CSP would block them).
		expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
		expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=|hx-on|javascript:/i);
	});

	it("shows the permits in use and the tasks waiting", async () => {
		const tasks = await Promise.all(Array.from({ length: 4 }, () => submit({ type: "limited-concurrency", payload: { ms: 3000 } })));
		// Three run (concurrency 3), the fourth waits for a permit.
		const busy = await vi.waitUntil(
			async () => {
				const row = rowOf(await limitsHtml(), "limited-concurrency");
				const settled = row.includes('<td data-usage="running">3</td>') && row.includes('<td data-usage="waiting">1</td>');
				return settled ? row : false;
			},
			{ timeout: 15_000, interval: 100 },
		);
		expect(busy).toContain("<td>3 at once</td>");
		// The same numbers as GET /v1/limits.
		const listed = LimitList.parse(await (await api("/v1/limits")).json()).limits.find((info) => info.type === "limited-concurrency");
		expect(listed?.usage).toMatchObject({ running: 3, waiting: 1 });
		for (const task of tasks) await api(`/v1/tasks/${task.id}/cancel`, { method: "POST" });
	});

	it("marks an override and shows its values, until it is deleted", async () => {
		expect(
			(await api("/v1/limits/limited-rate", { method: "PUT", json: { rateLimit: { limit: 7, periodSeconds: 2 }, keyConcurrency: 4 } }))
				.status,
		).toBe(200);
		const overridden = rowOf(await limitsHtml(), "limited-rate");
		expect(overridden).toContain(">override<");
		expect(overridden).toContain("<td>7 per 2 s</td>");
		expect(overridden).toContain("<td>4 at once</td>");
		expect((await api("/v1/limits/limited-rate", { method: "DELETE" })).status).toBe(204);
		const back = rowOf(await limitsHtml(), "limited-rate");
		expect(back).not.toContain(">override<");
		expect(back).toContain("<td>5 per 1 s</td>");
	});
});
