// The dashboard's session cookie and cross-site request refusal, with hostile input, inside
// workerd. (Real-browser behaviour is covered by test/browser/.)
import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../src/dashboard/security";
import { createSessionValue, SESSION_COOKIE, SESSION_TTL_SECONDS, verifySessionValue } from "../src/dashboard/session";
import worker from "../src/index";
import { newOperationStub } from "../src/durable/operation-stub";
import { createTask, inTheFuture, readRecord, TOKEN } from "./helpers";

const ORIGIN = "https://taskflare.test";

function dashboard(path: string, init: RequestInit & { cookie?: string; origin?: string | null; fetchSite?: string } = {}) {
	const { cookie, origin = ORIGIN, fetchSite, ...rest } = init;
	const headers = new Headers(rest.headers);
	if (cookie !== undefined) headers.set("Cookie", `${SESSION_COOKIE}=${cookie}`);
	if (origin !== null) headers.set("Origin", origin);
	if (fetchSite !== undefined) headers.set("Sec-Fetch-Site", fetchSite);
	return exports.default.fetch(new Request(`${ORIGIN}${path}`, { redirect: "manual", ...rest, headers }));
}

const form = (fields: Record<string, string>) => ({
	method: "POST",
	headers: { "Content-Type": "application/x-www-form-urlencoded" },
	body: new URLSearchParams(fields).toString(),
});

/** Swaps one character of `text` at `index` for another valid base64url character. */
function flip(text: string, index: number): string {
	const ch = text[index] === "A" ? "B" : "A";
	return text.slice(0, index) + ch + text.slice(index + 1);
}

describe("session cookie values", () => {
	it("accepts a fresh session and refuses a tampered, forged, expired or foreign one", async () => {
		const value = await createSessionValue(TOKEN);
		expect(await verifySessionValue(TOKEN, value)).toBe(true);

		const [expires, id, signature] = value.split(".");
		if (!expires || !id || !signature) throw new Error("unexpected session shape");
		// Tampered: a later expiry, another id, a changed signature.
		expect(await verifySessionValue(TOKEN, `${Number(expires) + 60}.${id}.${signature}`)).toBe(false);
		expect(await verifySessionValue(TOKEN, `${expires}.${flip(id, 3)}.${signature}`)).toBe(false);
		expect(await verifySessionValue(TOKEN, `${expires}.${id}.${flip(signature, 10)}`)).toBe(false);
		// Signed with another token (e.g. before API_TOKEN was rotated).
		expect(await verifySessionValue(TOKEN, await createSessionValue("another-token"))).toBe(false);
		// Expired: the same value, checked after its lifetime.
		const later = Date.now() + (SESSION_TTL_SECONDS + 1) * 1000;
		expect(await verifySessionValue(TOKEN, value, later)).toBe(false);
		// Issued "in the future" (expiring past any lifetime this server gives): refused too.
		const farFuture = await createSessionValue(TOKEN, Date.now() + 7 * 24 * 3600 * 1000);
		expect(await verifySessionValue(TOKEN, farFuture)).toBe(false);
	});

	it("refuses malformed values without throwing", async () => {
		const hostile = [
			"",
			".",
			"..",
			"1.2.3",
			"x".repeat(100_000),
			`${"9".repeat(12)}.${"A".repeat(22)}.${"A".repeat(43)}`,
			"1796164464.jf7cx22kD5F6vZdUuwr-qg.SbiAlPBacRO4ZAIiJKImQL0yQ7-KvrKJLBRIiuraPvo",
			"🙂.🙂.🙂",
			"1796164464.jf7cx22kD5F6vZdUuwr-qg.SbiAlPBacRO4ZAIiJKImQL0yQ7-KvrKJLBRIiuraPv=",
			TOKEN,
		];
		for (const value of hostile) expect(await verifySessionValue(TOKEN, value), value.slice(0, 40)).toBe(false);
	});
});

describe("dashboard access", () => {
	it("sends a visitor without a valid session to sign-in, whatever the cookie says", async () => {
		const valid = await createSessionValue(TOKEN);
		const expired = await createSessionValue(TOKEN, Date.now() - (SESSION_TTL_SECONDS + 5) * 1000);
		for (const cookie of [undefined, "", "garbage", expired, await createSessionValue("wrong"), `${valid}x`, TOKEN]) {
			const response = await dashboard("/dashboard/submit", { cookie });
			expect(response.status, String(cookie)).toBe(303);
			expect(response.headers.get("Location")).toBe("/dashboard/sign-in?next=%2Fdashboard%2Fsubmit");
		}
		const ok = await dashboard("/dashboard/submit", { cookie: valid });
		expect(ok.status).toBe(200);
		expect(await ok.text()).toContain("Submit a task");
	});

	it("answers htmx and event-stream requests without a session with 401, not a redirect", async () => {
		const htmx = await dashboard("/dashboard/submit", { headers: { "HX-Request": "true" } });
		expect(htmx.status).toBe(401);
		expect(htmx.headers.get("HX-Redirect")).toBe("/dashboard/sign-in");
		const events = await dashboard(`/dashboard/tasks/${"a".repeat(64)}/live`, { headers: { Accept: "text/event-stream" } });
		expect(events.status).toBe(401);
	});

	it("signs in with the token and sets a HttpOnly, Secure, SameSite=Strict, expiring cookie", async () => {
		const response = await dashboard("/dashboard/sign-in", form({ token: TOKEN, next: "/dashboard/submit" }));
		expect(response.status).toBe(303);
		expect(response.headers.get("Location")).toBe("/dashboard/submit");
		const cookie = response.headers.get("Set-Cookie") ?? "";
		expect(cookie).toMatch(
			new RegExp(`^${SESSION_COOKIE}=[^;]+; Max-Age=${SESSION_TTL_SECONDS}; Path=/; HttpOnly; Secure; SameSite=Strict$`),
		);
		expect(cookie).not.toContain(TOKEN);
		const value = /^[^=]+=([^;]+)/.exec(cookie)?.[1] ?? "";
		expect(await verifySessionValue(TOKEN, value)).toBe(true);
	});

	it("refuses a wrong token, and never echoes what was typed", async () => {
		for (const token of ["wrong", "", `${TOKEN} `, "<script>alert(1)</script>", "x".repeat(10_000)]) {
			const response = await dashboard("/dashboard/sign-in", form({ token }));
			expect(response.status).toBe(401);
			expect(response.headers.get("Set-Cookie")).toBeNull();
			const html = await response.text();
			if (token.length > 0) expect(html).not.toContain(token);
		}
	});

	it("does not redirect to another site after sign-in", async () => {
		for (const next of ["https://evil.example/", "//evil.example/dashboard", "/\\evil.example", "/v1/tasks", "javascript:alert(1)"]) {
			const response = await dashboard("/dashboard/sign-in", form({ token: TOKEN, next }));
			expect(response.status).toBe(303);
			expect(response.headers.get("Location"), next).toBe("/dashboard");
		}
	});

	it("is closed when no API token is configured", async () => {
		const closedEnv = { ...env, API_TOKEN: "" };
		const signIn = await worker.fetch(
			new Request(`${ORIGIN}/dashboard/sign-in`, { ...form({ token: "" }), headers: { ...form({}).headers, Origin: ORIGIN } }),
			closedEnv,
			createExecutionContext(),
		);
		expect(signIn.status).toBe(401);
		expect(signIn.headers.get("Set-Cookie")).toBeNull();
		// A cookie signed with an empty key does not open it either.
		const forged = await createSessionValue("");
		const page = await worker.fetch(
			new Request(`${ORIGIN}/dashboard/submit`, { headers: { Cookie: `${SESSION_COOKIE}=${forged}` }, redirect: "manual" }),
			closedEnv,
			createExecutionContext(),
		);
		expect(page.status).toBe(303);
	});

	it("keeps the JSON API on bearer auth: a session cookie does not open it", async () => {
		const response = await dashboard("/v1/task-types", { cookie: await createSessionValue(TOKEN) });
		expect(response.status).toBe(401);
	});
});

describe("cross-site requests", () => {
	it("refuses state-changing requests from another origin, even with a valid session", async () => {
		const cookie = await createSessionValue(TOKEN);
		const { id, stub } = await createTask("echo", {}, { delaySeconds: 3600 });
		const hostile: { origin: string | null; fetchSite?: string }[] = [
			{ origin: "https://evil.example" },
			{ origin: "null" },
			{ origin: "https://taskflare.test.evil.example" },
			{ origin: "http://taskflare.test" },
			{ origin: "https://taskflare.test:8443" },
			{ origin: null, fetchSite: "cross-site" },
			{ origin: null, fetchSite: "same-site" },
			{ origin: null },
		];
		for (const { origin, fetchSite } of hostile) {
			const response = await dashboard(`/dashboard/tasks/${id}/cancel`, { method: "POST", cookie, origin, fetchSite });
			expect(response.status, `${origin} ${fetchSite}`).toBe(403);
		}
		expect((await readRecord(stub))?.status).toBe("queued");
		// Every other state-changing dashboard request is refused the same way.
		for (const path of [`/dashboard/tasks/${id}/retry`, `/dashboard/tasks/${id}/delete`, "/dashboard/bulk", "/dashboard/submit"]) {
			const response = await dashboard(path, {
				...form({ action: "delete", status: "queued", type: "echo" }),
				cookie,
				origin: "https://evil.example",
			});
			expect(response.status, path).toBe(403);
		}
		// Sign-in and sign-out are state changes too (login CSRF).
		expect((await dashboard("/dashboard/sign-in", { ...form({ token: TOKEN }), origin: "https://evil.example" })).status).toBe(403);
		expect((await dashboard("/dashboard/sign-out", { method: "POST", cookie, origin: "https://evil.example" })).status).toBe(403);

		// The same request from the dashboard's own origin goes through.
		const own = await dashboard(`/dashboard/tasks/${id}/cancel`, { method: "POST", cookie });
		expect(own.status).toBe(303);
		expect((await readRecord(stub))?.status).toBe("cancelled");
		// A browser that omits Origin but says same-origin is accepted too.
		const { id: other, stub: otherStub } = await createTask("echo", {}, { delaySeconds: 3600 });
		const sameOrigin = await dashboard(`/dashboard/tasks/${other}/cancel`, {
			method: "POST",
			cookie,
			origin: null,
			fetchSite: "same-origin",
		});
		expect(sameOrigin.status).toBe(303);
		expect((await readRecord(otherStub))?.status).toBe("cancelled");
	});
});

describe("a bulk operation's Stop button", () => {
	it("shows while it runs, is refused from another origin, and stops it from the dashboard's own", async () => {
		const cookie = await createSessionValue(TOKEN);
		const tasks = await Promise.all(Array.from({ length: 3 }, () => createTask("echo")));
		// An hour ahead, the operation's first chunk is an hour away for the runtime: it stays running.
		await inTheFuture(3600_000, async () => {
			const { id, stub } = newOperationStub(env);
			await stub.begin({ action: "cancel", ids: tasks.map((t) => t.id) });
			const page = await dashboard(`/dashboard/operations/${id}`, { cookie });
			expect(page.status).toBe(200);
			const html = await page.text();
			expect(html).toContain(`action="/dashboard/operations/${id}/cancel"`);
			expect(html).toContain(">Stop<");

			for (const origin of ["https://evil.example", "null"]) {
				expect((await dashboard(`/dashboard/operations/${id}/cancel`, { method: "POST", cookie, origin })).status).toBe(403);
			}
			expect((await stub.get())?.state).toBe("running");
			// Without a session: refused, nothing stopped.
			expect((await dashboard(`/dashboard/operations/${id}/cancel`, { method: "POST" })).status).toBe(401);
			expect((await stub.get())?.state).toBe("running");

			const own = await dashboard(`/dashboard/operations/${id}/cancel`, { method: "POST", cookie });
			expect(own.status).toBe(303);
			expect(own.headers.get("Location")).toBe(`/dashboard/operations/${id}`);
			expect((await stub.get())?.state).toBe("cancelled");
			const after = await (await dashboard(`/dashboard/operations/${id}`, { cookie })).text();
			expect(after).not.toContain(">Stop<");
			expect(after).toContain("left as they were");
			// An unknown operation is a 404 page, not an error.
			const unknown = "0".repeat(64);
			expect((await dashboard(`/dashboard/operations/${unknown}/cancel`, { method: "POST", cookie })).status).toBe(404);
		});
		expect((await Promise.all(tasks.map((t) => readRecord(t.stub)))).every((r) => r?.status === "queued")).toBe(true);
	});
});

describe("security headers", () => {
	it("puts the strict CSP and the usual headers on pages, errors, redirects and assets", async () => {
		const cookie = await createSessionValue(TOKEN);
		const responses = [
			await dashboard("/dashboard/sign-in"),
			await dashboard("/dashboard/submit"),
			await dashboard("/dashboard/submit", { cookie }),
			await dashboard("/dashboard/no-such-page", { cookie }),
			await dashboard(`/dashboard/tasks/${"0".repeat(64)}`, { cookie }),
			await dashboard("/dashboard/assets/nope.js"),
			await dashboard("/dashboard/sign-in", { ...form({ token: "x" }), origin: "https://evil.example" }),
		];
		expect(responses.map((r) => r.status)).toEqual([200, 303, 200, 404, 404, 404, 403]);
		for (const response of responses) {
			expect(response.headers.get("Content-Security-Policy")).toBe(CONTENT_SECURITY_POLICY);
			expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
			expect(response.headers.get("X-Frame-Options")).toBe("DENY");
			expect(response.headers.get("Referrer-Policy")).toBe("same-origin");
		}
		expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
		expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
		expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval/);
	});

	it("serves pages without inline scripts, inline styles or event-handler attributes", async () => {
		const cookie = await createSessionValue(TOKEN);
		const { id } = await createTask("sleep", { ms: 1 });
		for (const path of ["/dashboard/sign-in", "/dashboard/submit?type=sleep", `/dashboard/tasks/${id}`]) {
			const html = await (await dashboard(path, { cookie })).text();
			expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
			expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=|hx-on|javascript:/i);
		}
	});
});
