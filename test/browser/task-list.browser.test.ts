// The task list, overview and bulk actions in a real browser: filters in the URL, cursor paging
// without repeats or gaps, the "N new tasks" notice (rows never shift), nothing polled while the
// tab is hidden, the overview updating live, retry from a task's page, and a bulk retry with its
// progress.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { TaskPage } from "../../src/schemas";
import { ApiClient, mapPool, parseJson } from "../e2e/client";
import { expectCleanConsole, launchBrowser, openPage, signIn, type TrackedPage } from "./browser";

const baseUrl = inject("dashboardUrl");
const token = inject("dashboardToken");
const api = new ApiClient(baseUrl, token);
let browser: Browser;
let tracked: TrackedPage;

/** The task ids of the rows shown, top to bottom. */
async function rowIds(t: TrackedPage): Promise<string[]> {
	const rows = await t.page.locator("tr[data-task-id]").all();
	return (await Promise.all(rows.map((row) => row.getAttribute("data-task-id")))).filter((id) => id !== null);
}

beforeAll(async () => {
	browser = await launchBrowser();
	tracked = await openPage(browser);
	await signIn(tracked.page, baseUrl, token, "/dashboard");
});
afterAll(async () => {
	await browser?.close();
});

describe("task list", () => {
	it("filters by tag, status and type in the URL and pages by cursor without repeats or gaps", async () => {
		const { page } = tracked;
		const tag = `list-${crypto.randomUUID().slice(0, 8)}`;
		// 62 delayed echo tasks (they stay queued) and 3 delayed sleep tasks, all with the tag.
		const echo = await mapPool(
			Array.from({ length: 62 }, (_, i) => i),
			4,
			async (i) => (await api.submit({ type: "echo", payload: { i }, delaySeconds: 3600, tags: [tag] })).record.id,
		);
		const sleep = await mapPool(
			[0, 1, 2],
			3,
			async (i) => (await api.submit({ type: "sleep", payload: { ms: i }, delaySeconds: 3600, tags: [tag] })).record.id,
		);

		await page.goto(`${baseUrl}/dashboard/tasks`);
		await page.getByLabel("Tag").fill(tag);
		await page.getByLabel("queued").check();
		await page.getByLabel("Type").selectOption("echo");
		await page.getByRole("button", { name: "Apply" }).click();
		await page.waitForURL((url) => url.searchParams.get("tag") === tag);
		const shared = new URL(page.url());
		expect(shared.searchParams.getAll("status")).toEqual(["queued"]);
		expect(shared.searchParams.get("type")).toBe("echo");

		const first = await rowIds(tracked);
		expect(first).toHaveLength(50);
		await page.getByRole("link", { name: "Older »" }).click();
		await page.waitForURL(/cursor=/);
		const second = await rowIds(tracked);
		expect(second).toHaveLength(12);
		expect(await page.getByText("End of the list.").count()).toBe(1);
		// Every echo task exactly once; no sleep task; newest first.
		expect([...first, ...second].sort((a, b) => a.localeCompare(b))).toEqual([...echo].sort((a, b) => a.localeCompare(b)));
		expect([...first, ...second].some((id) => sleep.includes(id))).toBe(false);
		const times = (await Promise.all((await page.locator("tr[data-task-id] time").all()).map((time) => time.getAttribute("datetime")))).map(
			(time) => Date.parse(time ?? ""),
		);
		expect(times).toEqual([...times].sort((a, b) => b - a));

		// The shared URL shows the same first page in a fresh tab.
		const other = await tracked.context.newPage();
		await other.goto(shared.toString());
		const otherRows = await other.locator("tr[data-task-id]").all();
		expect(await Promise.all(otherRows.map((row) => row.getAttribute("data-task-id")))).toEqual(first);
		await other.close();
		expectCleanConsole(tracked);
	});

	it("announces new tasks instead of shifting the rows, and polls nothing while the tab is hidden", async () => {
		const { page } = tracked;
		const tag = `new-${crypto.randomUUID().slice(0, 8)}`;
		await api.submit({ type: "echo", payload: {}, delaySeconds: 3600, tags: [tag] });
		await page.goto(`${baseUrl}/dashboard/tasks?tag=${tag}`);
		const before = await rowIds(tracked);
		expect(before).toHaveLength(1);

		await mapPool([1, 2, 3], 3, (i) => api.submit({ type: "echo", payload: { i }, delaySeconds: 3600, tags: [tag] }));
		const notice = page.locator("#new-tasks");
		await expect.poll(() => notice.textContent(), { timeout: 20_000 }).toContain("3 new tasks");
		expect(await rowIds(tracked)).toEqual(before);

		// Hidden: the 2-second polls stop (htmx's timer fires, the request is cancelled).
		const polls = () => tracked.requestedUrls.filter((url) => url.includes("/dashboard/tasks/new")).length;
		await page.evaluate(`Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
			document.dispatchEvent(new Event("visibilitychange"));`);
		const hiddenAt = polls();
		await new Promise((resolve) => setTimeout(resolve, 5_000));
		expect(polls()).toBe(hiddenAt);
		// Visible again: refreshed at once.
		await page.evaluate(`Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
			document.dispatchEvent(new Event("visibilitychange"));`);
		await expect.poll(polls, { timeout: 1_500, interval: 50 }).toBeGreaterThan(hiddenAt);

		await page.locator("#new-tasks-link").click();
		await page.waitForLoadState();
		await expect.poll(async () => (await rowIds(tracked)).length).toBe(4);
		expectCleanConsole(tracked);
	});
});

describe("overview", () => {
	it("shows counts per status and type, queue backlogs and the last hour, updated without reloading", async () => {
		const { page } = tracked;
		await page.goto(`${baseUrl}/dashboard`);
		await page.evaluate("window.__notReloaded = true");
		const queued = page.locator('[data-count="queued"]');
		const count = async () => Number((await queued.textContent())?.replaceAll(",", ""));
		const start = await count();
		await mapPool([1, 2, 3, 4, 5], 5, (i) => api.submit({ type: "echo", payload: { i }, delaySeconds: 3600 }));
		await expect.poll(count, { timeout: 15_000 }).toBeGreaterThanOrEqual(start + 5);
		expect(await page.evaluate("window.__notReloaded === true")).toBe(true);
		expect(await page.locator("#queue-tasks").textContent()).toMatch(/messages/);
		expect(await page.locator("#queue-dlq").textContent()).toMatch(/messages/);
		expect(await page.locator("svg.chart polyline").count()).toBe(3);
		expect(await page.getByRole("rowheader", { name: "echo" }).count()).toBe(1);
		expectCleanConsole(tracked);
	});
});

describe("actions", () => {
	it("retries a failed task from its page and shows both attempts in the history", async () => {
		const { page } = tracked;
		const { record } = await api.submit({ type: "fail", payload: { message: "boom" } });
		await api.waitForTerminal(record.id, 60_000);
		await page.goto(`${baseUrl}/dashboard/tasks/${record.id}`);
		expect(await page.locator(".timeline li").count()).toBe(1);
		await page.getByRole("button", { name: "Retry task" }).click();
		await page.waitForURL(`${baseUrl}/dashboard/tasks/${record.id}`);
		// Live: it runs again and fails again; the timeline grows without a reload.
		await expect.poll(() => page.locator(".timeline li").count(), { timeout: 60_000 }).toBe(2);
		await expect.poll(() => page.locator('[data-live-part="status"] .badge').textContent(), { timeout: 60_000 }).toBe("failed");
		expect((await api.getTask(record.id)).attempts).toBe(2);
		expectCleanConsole(tracked);
	});

	it("deletes a finished task from its page after a second, explicit step", async () => {
		const { page } = tracked;
		const { record } = await api.submit({ type: "echo", payload: { secret: "x" } });
		await api.waitForTerminal(record.id, 60_000);
		await page.goto(`${baseUrl}/dashboard/tasks/${record.id}`);
		await page.getByText("Delete…").click();
		await page.getByRole("button", { name: "Delete permanently" }).click();
		await page.waitForURL(`${baseUrl}/dashboard/tasks`);
		expect((await api.request("GET", `/v1/tasks/${record.id}`)).status).toBe(404);
		expectCleanConsole(tracked);
	});

	it("bulk-retries the failed tasks of a filter after confirming the count, showing progress", async () => {
		const { page } = tracked;
		const tag = `bulk-${crypto.randomUUID().slice(0, 8)}`;
		// flaky with failTimes 1 and one attempt: fails now, succeeds when retried.
		const ids = await mapPool(
			Array.from({ length: 24 }, (_, i) => i),
			4,
			async () => (await api.submit({ type: "flaky", payload: { failTimes: 1 }, maxAttempts: 1, tags: [tag] })).record.id,
		);
		await mapPool(ids, 4, (id) => api.waitForTerminal(id, 90_000));
		// The index learns of each change within about a second.
		await vi.waitUntil(
			async () => parseJson(await api.request("GET", `/v1/tasks?tag=${tag}&status=failed&limit=100`), TaskPage).tasks.length === 24,
			{ timeout: 15_000, interval: 250 },
		);
		await page.goto(`${baseUrl}/dashboard/tasks?tag=${tag}&status=failed`);
		await page.getByRole("link", { name: "Retry failed…" }).click();
		const confirm = page.locator("[data-match-count]");
		await confirm.waitFor();
		expect(await confirm.getAttribute("data-match-count")).toBe("24");
		await page.getByRole("button", { name: "Retry 24" }).click();
		const operation = page.locator("#operation");
		await operation.waitFor();
		await expect.poll(() => operation.getAttribute("data-operation-state"), { timeout: 60_000 }).toBe("succeeded");
		expect(await operation.locator("[data-operation-counts]").textContent()).toContain("done 24");
		// And they run: every one succeeds on its retry.
		await expect
			.poll(async () => (await mapPool(ids, 4, (id) => api.getTask(id))).filter((t) => t.status === "succeeded").length, {
				timeout: 90_000,
				interval: 1000,
			})
			.toBe(24);
		expectCleanConsole(tracked);
	});
});
