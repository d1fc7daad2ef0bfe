// Screenshots of the overview, the task list and a task's detail page, in light and dark, taken
// by the test run and committed under docs/screenshots/ (the README shows them). Every page must
// also be free of CSP violations and console errors, at desktop and at phone width.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { REPO_ROOT } from "../../scripts/dev-server";
import { ApiClient, mapPool } from "../e2e/client";
import { expectCleanConsole, launchBrowser, openPage, signIn } from "./browser";

const baseUrl = inject("dashboardUrl");
const token = inject("dashboardToken");
const api = new ApiClient(baseUrl, token);
const OUT = path.join(REPO_ROOT, "docs", "screenshots");
let browser: Browser;
let detailId = "";

beforeAll(async () => {
	browser = await launchBrowser();
	await mkdir(OUT, { recursive: true });
	// A small, varied history: successes, failures, a retrying flaky task, delayed and running ones.
	const bodies = [
		...Array.from({ length: 14 }, (_, i) => ({ type: "echo", payload: { order: i }, tags: [`customer:${i % 3}`] })),
		...Array.from({ length: 6 }, (_, i) => ({ type: "sha256", payload: { text: `doc-${i}`, iterations: 1000 }, tags: ["hashing"] })),
		...Array.from({ length: 3 }, (_, i) => ({ type: "fail", payload: { message: `upstream 50${i}` }, tags: ["customer:1"] })),
		{ type: "flaky", payload: { failTimes: 1 }, tags: ["customer:2"] },
		...Array.from({ length: 4 }, (_, i) => ({ type: "echo", payload: { later: i }, delaySeconds: 3600 })),
	];
	await mapPool(bodies, 4, (body) => api.submit(body));
	const { record } = await api.submit({
		type: "sleep",
		payload: { ms: 20_000 },
		tags: ["customer:42", "nightly-report"],
	});
	detailId = record.id;
	// Wait until it reports progress, so the detail screenshot shows a running task.
	await vi.waitUntil(async () => ((await api.getTask(detailId)).progress ?? 0) !== 0, { timeout: 60_000, interval: 500 });
});
afterAll(async () => {
	if (detailId) await api.request("POST", `/v1/tasks/${detailId}/cancel`);
	await browser?.close();
});

describe("screenshots", () => {
	for (const colorScheme of ["light", "dark"] as const) {
		it(`overview, list and detail in ${colorScheme}`, async () => {
			const tracked = await openPage(browser, { colorScheme, viewport: { width: 1200, height: 900 } });
			const { page } = tracked;
			await signIn(page, baseUrl, token, "/dashboard");
			await page.goto(`${baseUrl}/dashboard`);
			await page.locator('[data-count="succeeded"]').waitFor();
			await page.screenshot({ path: path.join(OUT, `overview-${colorScheme}.png`), fullPage: true });
			await page.goto(`${baseUrl}/dashboard/tasks`);
			await page.locator("tr[data-task-id]").first().waitFor();
			await page.screenshot({ path: path.join(OUT, `list-${colorScheme}.png`), fullPage: true });
			await page.goto(`${baseUrl}/dashboard/tasks/${detailId}`);
			await page.locator("[data-progress]").waitFor();
			await page.screenshot({ path: path.join(OUT, `detail-${colorScheme}.png`), fullPage: true });
			expectCleanConsole(tracked);
			await tracked.context.close();
		});
	}

	it("reads on a phone: no page is wider than the screen", async () => {
		const tracked = await openPage(browser, { viewport: { width: 390, height: 844 } });
		const { page } = tracked;
		await signIn(page, baseUrl, token, "/dashboard");
		for (const url of ["/dashboard", "/dashboard/tasks", `/dashboard/tasks/${detailId}`, "/dashboard/submit?type=sleep"]) {
			await page.goto(`${baseUrl}${url}`);
			// Tables scroll inside their own box; the page itself never scrolls sideways.
			expect(await page.evaluate("document.documentElement.scrollWidth"), url).toBeLessThanOrEqual(390);
		}
		await page.goto(`${baseUrl}/dashboard/tasks`);
		await page.screenshot({ path: path.join(OUT, "list-phone.png"), fullPage: false });
		expectCleanConsole(tracked);
		await tracked.context.close();
	});
});
