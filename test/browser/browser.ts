// Real Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core (which
// downloads no browser). Every page records console errors, CSP violations and page errors, so a
// test can assert that none happened.
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";

export const CHROMIUM = "/usr/bin/chromium";

/** Flags for a quiet, offline, headless run (Playwright adds --no-sandbox itself when root). */
const FLAGS = ["--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export function launchBrowser(): Promise<Browser> {
	return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

export type TrackedPage = {
	context: BrowserContext;
	page: Page;
	/** Console messages reporting a Content-Security-Policy violation. */
	cspViolations: string[];
	/** Every console error (CSP violations included) and uncaught page error. */
	errors: string[];
	/** Every URL the page requested. */
	requestedUrls: string[];
};

export async function openPage(
	browser: Browser,
	options: { colorScheme?: "light" | "dark"; viewport?: { width: number; height: number } } = {},
): Promise<TrackedPage> {
	const context = await browser.newContext({
		colorScheme: options.colorScheme ?? "light",
		viewport: options.viewport ?? { width: 1280, height: 860 },
	});
	const page = await context.newPage();
	const tracked: TrackedPage = { context, page, cspViolations: [], errors: [], requestedUrls: [] };
	// Also reported as a console error, so a violation the console would not show is still seen.
	// (Injected by the browser driver, not by the page, so the CSP does not apply to it.)
	await page.addInitScript({
		content: `document.addEventListener("securitypolicyviolation", (e) => console.error("Content Security Policy violation event: " + e.violatedDirective + " " + e.blockedURI));`,
	});
	page.on("console", (message) => {
		if (message.type() !== "error") return;
		const text = message.text();
		tracked.errors.push(text);
		if (/Content Security Policy|Refused to (load|execute|apply|evaluate|connect|frame)/i.test(text)) tracked.cspViolations.push(text);
	});
	page.on("pageerror", (error) => tracked.errors.push(`page error: ${error.message}`));
	page.on("request", (request) => tracked.requestedUrls.push(request.url()));
	return tracked;
}

/**
 * No CSP violation and no console or page error happened on this page, except errors matching
 * `expected` (e.g. Chromium's "Failed to load resource: … status of 422" for a refused form).
 */
export function expectCleanConsole(tracked: TrackedPage, expected: RegExp[] = []): void {
	expect(tracked.cspViolations).toEqual([]);
	expect(tracked.errors.filter((error) => !expected.some((pattern) => pattern.test(error)))).toEqual([]);
}

export async function signIn(page: Page, baseUrl: string, token: string, next = "/dashboard/submit"): Promise<void> {
	await page.goto(`${baseUrl}/dashboard/sign-in?next=${encodeURIComponent(next)}`);
	await page.getByLabel("API token").fill(token);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.waitForURL((url) => !url.pathname.startsWith("/dashboard/sign-in"));
}
