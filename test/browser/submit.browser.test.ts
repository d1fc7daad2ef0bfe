// Submitting a task from the form generated from the type's JSON Schema, in a real browser: the
// API's validation errors appear next to the fields they name.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { expectCleanConsole, launchBrowser, openPage, signIn } from "./browser";

const baseUrl = inject("dashboardUrl");
const token = inject("dashboardToken");
let browser: Browser;

beforeAll(async () => {
	browser = await launchBrowser();
});
afterAll(async () => {
	await browser?.close();
});

describe("submit form", () => {
	it("shows the validation error next to the field, keeps the values, then submits", async () => {
		const tracked = await openPage(browser);
		const { page } = tracked;
		await signIn(page, baseUrl, token);
		await page.goto(`${baseUrl}/dashboard/submit`);
		await page.getByLabel("Task type").selectOption("sha256");
		await page.getByRole("button", { name: "Choose" }).click();
		await page.waitForURL(/type=sha256/);

		await page.getByLabel(/^text/).fill("abc");
		const iterations = page.getByLabel(/^iterations/);
		await iterations.fill("-5");
		await page.getByLabel(/Max attempts/).fill("500");
		await page.getByRole("button", { name: "Submit", exact: true }).click();
		await page.locator(".field-error").first().waitFor();
		// Each error sits under its own field and is tied to it for screen readers.
		expect(await page.locator("#f-payload-iterations-error").textContent()).toContain("expected number to be >=1");
		expect(await iterations.getAttribute("aria-invalid")).toBe("true");
		expect(await iterations.getAttribute("aria-describedby")).toBe("f-payload-iterations-error");
		expect(await page.locator("#f-maxAttempts-error").textContent()).toContain("<=100");
		expect(await iterations.inputValue()).toBe("-5");
		expect(await page.getByLabel(/^text/).inputValue()).toBe("abc");

		await iterations.fill("10");
		await page.getByLabel(/Max attempts/).fill("");
		await page.getByRole("button", { name: "Submit", exact: true }).click();
		await page.waitForURL(/\/dashboard\/tasks\/[0-9a-f]{64}$/);
		await expect.poll(() => page.locator('[data-live-part="status"] .badge').textContent(), { timeout: 60_000 }).toBe("succeeded");
		// The refused submit answered 422, which Chromium reports on the console.
		expectCleanConsole(tracked, [/status of 422/]);
		await tracked.context.close();
	});

	it("reports JSON that does not parse next to the JSON field", async () => {
		const tracked = await openPage(browser);
		const { page } = tracked;
		await signIn(page, baseUrl, token);
		await page.goto(`${baseUrl}/dashboard/submit?type=echo`);
		await page.getByLabel(/^payload/).fill("{not json");
		await page.getByRole("button", { name: "Submit", exact: true }).click();
		await expect.poll(() => page.locator("#f-payload-error").textContent()).toContain("Not valid JSON");
		await page.getByLabel(/^payload/).fill('{"hello": "browser"}');
		await page.getByRole("button", { name: "Submit", exact: true }).click();
		await page.waitForURL(/\/dashboard\/tasks\/[0-9a-f]{64}$/);
		await expect.poll(() => page.getByRole("group", { name: "Payload" }).textContent()).toContain('"browser"');
		expectCleanConsole(tracked, [/status of 422/]);
		await tracked.context.close();
	});
});
