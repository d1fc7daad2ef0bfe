// The task detail page in a real browser: live progress without reloading, cancel from the UI,
// and a 1 MiB payload that opens without freezing the page.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ApiClient } from "../e2e/client";
import { expectCleanConsole, launchBrowser, openPage, signIn, type TrackedPage } from "./browser";

const baseUrl = inject("dashboardUrl");
const token = inject("dashboardToken");
const api = new ApiClient(baseUrl, token);
let browser: Browser;
let tracked: TrackedPage;

beforeAll(async () => {
	browser = await launchBrowser();
	tracked = await openPage(browser);
	await signIn(tracked.page, baseUrl, token);
});
afterAll(async () => {
	await browser?.close();
});

describe("task detail", () => {
	it("shows a running task's progress live, without reloading the page", async () => {
		const { page } = tracked;
		const { record } = await api.submit({ type: "sleep", payload: { ms: 8000 } });
		await page.goto(`${baseUrl}/dashboard/tasks/${record.id}`);
		// A marker that a reload would wipe out.
		await page.evaluate("window.__notReloaded = true");
		const badge = page.locator('[data-live-part="status"] .badge');
		const progress = page.locator("[data-progress]");
		await expect.poll(() => badge.textContent(), { timeout: 60_000 }).toBe("running");
		const seen = new Set<string>();
		await expect
			.poll(
				async () => {
					const value = await progress.getAttribute("data-progress").catch(() => null);
					if (value !== null) seen.add(value);
					return seen.size;
				},
				{ timeout: 60_000, interval: 100 },
			)
			.toBeGreaterThanOrEqual(3);
		await expect.poll(() => badge.textContent(), { timeout: 60_000 }).toBe("succeeded");
		// The result appears with the final state.
		await expect.poll(() => page.getByRole("group", { name: "Result" }).textContent()).toContain("sleptMs");
		expect(await page.evaluate("window.__notReloaded === true")).toBe(true);
		expectCleanConsole(tracked);
	});

	it("cancels a queued task from the page", async () => {
		const { page } = tracked;
		const { record } = await api.submit({ type: "echo", payload: { n: 1 }, delaySeconds: 3600 });
		await page.goto(`${baseUrl}/dashboard/tasks/${record.id}`);
		await page.getByRole("button", { name: "Cancel task" }).click();
		await expect.poll(() => page.locator('[data-live-part="status"] .badge').textContent()).toBe("cancelled");
		expect((await api.getTask(record.id)).status).toBe("cancelled");
		expect(await page.getByRole("button", { name: "Cancel task" }).count()).toBe(0);
		expectCleanConsole(tracked);
	});

	it("opens a task with a 1 MiB payload without freezing, and shows all of it on request", async () => {
		const { page } = tracked;
		// Just under 1 MiB of JSON: 2,000 items of ~500 characters, the last one marked.
		const items = Array.from({ length: 2000 }, (_, i) => ({ i, text: `${i}:`.padEnd(480, "x") }));
		items.push({ i: 2000, text: "the-very-last-item" });
		const payload = { items };
		expect(JSON.stringify(payload).length).toBeGreaterThan(900_000);
		const { record } = await api.submit({ type: "echo", payload, delaySeconds: 3600 });

		const started = Date.now();
		const response = await page.goto(`${baseUrl}/dashboard/tasks/${record.id}`);
		const html = (await response?.text()) ?? "";
		// The page is small: the payload is cut on the server.
		expect(html.length).toBeLessThan(100_000);
		expect(html).not.toContain("the-very-last-item");
		await page.getByRole("button", { name: "Show all" }).waitFor();
		expect(Date.now() - started).toBeLessThan(15_000);
		// The page answers at once (a frozen main thread would not).
		const ping = Date.now();
		await page.evaluate("1 + 1");
		expect(Date.now() - ping).toBeLessThan(2_000);

		const clicked = Date.now();
		await page.getByRole("button", { name: "Show all" }).click();
		const full = page.getByRole("group", { name: "Payload" }).locator("pre");
		await expect.poll(() => full.count(), { timeout: 30_000 }).toBe(1);
		expect(await page.evaluate(`document.querySelector(".json pre").textContent.includes("the-very-last-item")`)).toBe(true);
		const ping2 = Date.now();
		await page.evaluate("1 + 1");
		expect(Date.now() - ping2).toBeLessThan(2_000);
		expect(Date.now() - clicked).toBeLessThan(30_000);
		await api.request("POST", `/v1/tasks/${record.id}/cancel`);
		expectCleanConsole(tracked);
	});
});
