// The schedule pages in a real browser: from the nav to the list, to a schedule's page, pause,
// resume and trigger now, following the run's link to its task, with no CSP violation.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ScheduleDetail } from "../../src/schedule-schemas";
import { ApiClient, parseJson } from "../e2e/client";
import { expectCleanConsole, launchBrowser, openPage, signIn, type TrackedPage } from "./browser";

const baseUrl = inject("dashboardUrl");
const token = inject("dashboardToken");
const api = new ApiClient(baseUrl, token);
let browser: Browser;
let tracked: TrackedPage;

async function getSchedule(id: string): Promise<ScheduleDetail> {
	const response = await api.request("GET", `/v1/schedules/${id}`);
	expect(response.status).toBe(200);
	return parseJson(response, ScheduleDetail);
}

beforeAll(async () => {
	browser = await launchBrowser();
	tracked = await openPage(browser);
	await signIn(tracked.page, baseUrl, token, "/dashboard");
});
afterAll(async () => {
	await browser?.close();
});

describe("schedule pages", () => {
	it("lists a schedule, opens it, pauses, resumes and triggers it", async () => {
		const { page } = tracked;
		const id = `browser-${crypto.randomUUID().slice(0, 8)}`;
		const created = await api.request("PUT", `/v1/schedules/${id}`, {
			json: { every: 3600, task: { type: "echo", payload: { from: "browser" } } },
		});
		expect(created.status, created.text).toBe(201);

		await page.goto(`${baseUrl}/dashboard`);
		await page.getByRole("navigation", { name: "Dashboard" }).getByRole("link", { name: "Schedules" }).click();
		await page.waitForURL(`${baseUrl}/dashboard/schedules`);
		const row = page.locator(`tr[data-schedule-id="${id}"]`);
		await expect.poll(() => row.textContent()).toContain("every 3600 s");
		expect(await row.locator(".badge").textContent()).toBe("active");

		await row.getByRole("link", { name: id }).click();
		await page.waitForURL(`${baseUrl}/dashboard/schedules/${id}`);
		expect(await page.locator("#next-fires li").count()).toBe(5);

		await page.getByRole("button", { name: "Pause" }).click();
		await page.getByRole("button", { name: "Resume" }).waitFor();
		expect(await page.locator(".panel .badge").first().textContent()).toBe("paused");
		expect((await getSchedule(id)).paused).toBe(true);

		await page.getByRole("button", { name: "Resume" }).click();
		await page.getByRole("button", { name: "Pause" }).waitFor();
		expect(await page.locator("#next-fires li").count()).toBe(5);
		expect((await getSchedule(id)).state).toBe("active");

		await page.getByRole("button", { name: "Trigger now" }).click();
		const taskLink = page.locator("#runs a[href^='/dashboard/tasks/']");
		await taskLink.first().waitFor();
		const [run] = (await getSchedule(id)).runs;
		expect(run).toMatchObject({ trigger: "manual", outcome: "submitted" });
		expect(await taskLink.first().getAttribute("href")).toBe(`/dashboard/tasks/${run?.taskId ?? ""}`);

		// The task the trigger made is an ordinary task; its page opens from the run.
		await taskLink.first().click();
		await page.waitForURL(`${baseUrl}/dashboard/tasks/${run?.taskId ?? ""}`);
		await expect.poll(() => page.locator('[data-live-part="status"] .badge').textContent(), { timeout: 60_000 }).toBe("succeeded");
		expectCleanConsole(tracked);
	});
});
