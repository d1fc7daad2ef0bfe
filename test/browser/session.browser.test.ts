// Signing in and out in a real browser, and where the token must never be: URLs, page source,
// cookies readable by scripts, localStorage, sessionStorage.
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

describe("sign-in and sign-out", () => {
	it("sends a visitor without a session to sign-in, and refuses a wrong token", async () => {
		const tracked = await openPage(browser);
		const { page } = tracked;
		await page.goto(`${baseUrl}/dashboard/submit`);
		expect(new URL(page.url()).pathname).toBe("/dashboard/sign-in");
		await page.getByLabel("API token").fill("not-the-token");
		await page.getByRole("button", { name: "Sign in" }).click();
		await expect.poll(() => page.getByRole("alert").textContent()).toContain("not the API token");
		expect((await tracked.context.cookies()).filter((cookie) => cookie.name.includes("session"))).toEqual([]);
		expect(await page.content()).not.toContain("not-the-token");
		// The refused sign-in answers 401, which Chromium reports on the console.
		expectCleanConsole(tracked, [/status of 401/]);
		await tracked.context.close();
	});

	it("signs in with the token, keeps it out of URLs, page source and storage, and signs out", async () => {
		const tracked = await openPage(browser);
		const { page, context } = tracked;
		await page.goto(`${baseUrl}/dashboard/submit`);
		// By keyboard alone: the token field has the focus; Enter submits. (Chromium applies
		// autofocus at its next rendering step, which can come after "load" on a busy machine.)
		await expect.poll(() => page.evaluate("document.activeElement?.getAttribute('name')")).toBe("token");
		await page.keyboard.type(token);
		await page.keyboard.press("Enter");
		// Back where the visitor wanted to go.
		await page.waitForURL(`${baseUrl}/dashboard/submit`);
		await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Submit a task");

		// The first Tab reaches the skip link, which moves the focus past the navigation.
		await page.keyboard.press("Tab");
		await expect.poll(() => page.evaluate("document.activeElement.textContent")).toBe("Skip to content");
		await page.keyboard.press("Enter");
		// Following an in-page link updates the URL after the key event returns, so poll for it.
		await expect.poll(() => new URL(page.url()).hash).toBe("#main");

		const cookies = await context.cookies();
		const session = cookies.find((cookie) => cookie.name === "__Host-taskflare-session");
		expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/" });
		expect(session?.expires).toBeGreaterThan(Date.now() / 1000);
		expect(cookies.some((cookie) => cookie.value.includes(token))).toBe(false);

		// Visit the pages a signed-in user sees, checking each one's source and the browser's storage.
		for (const path of ["/dashboard/submit?type=sleep", "/dashboard/submit?type=echo"]) {
			await page.goto(`${baseUrl}${path}`);
			expect(await page.content()).not.toContain(token);
			const stored = await page.evaluate(
				"JSON.stringify({ cookie: document.cookie, local: Object.assign({}, localStorage), session: Object.assign({}, sessionStorage) })",
			);
			expect(stored).not.toContain(token);
			// No cookie readable by scripts, nothing in localStorage; sessionStorage holds only htmx's
			// note of the current path (it writes it on every page load).
			const here = new URL(page.url());
			expect(stored).toBe(
				JSON.stringify({ cookie: "", local: {}, session: { "htmx-current-path-for-history": here.pathname + here.search } }),
			);
		}
		expect(tracked.requestedUrls.filter((url) => url.includes(token))).toEqual([]);
		expect(tracked.requestedUrls.length).toBeGreaterThan(3);

		await page.getByRole("button", { name: "Sign out" }).click();
		await page.waitForURL(`${baseUrl}/dashboard/sign-in`);
		expect((await context.cookies()).filter((cookie) => cookie.name.includes("session"))).toEqual([]);
		await page.goto(`${baseUrl}/dashboard/tasks`);
		expect(new URL(page.url()).pathname).toBe("/dashboard/sign-in");
		expectCleanConsole(tracked);
		await context.close();
	});

	it("keeps the JSON API on bearer auth: the session cookie does not open it", async () => {
		const tracked = await openPage(browser);
		await signIn(tracked.page, baseUrl, token);
		const response = await tracked.page.request.get(`${baseUrl}/v1/task-types`);
		expect(response.status()).toBe(401);
		await tracked.context.close();
	});
});
