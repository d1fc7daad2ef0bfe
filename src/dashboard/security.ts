// Browser-facing protections for every dashboard response and request.
import type { MiddlewareHandler } from "hono";

/**
 * Scripts and styles only from this origin: the vendored htmx and the dashboard's own files. No
 * inline script or style, no eval, no plugins, no framing, forms only to this origin.
 */
export const CONTENT_SECURITY_POLICY = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self'",
	"connect-src 'self'",
	"form-action 'self'",
	"base-uri 'none'",
	"frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
	"Content-Security-Policy": CONTENT_SECURITY_POLICY,
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options": "DENY",
	// Task ids in dashboard URLs are not sent to other sites.
	"Referrer-Policy": "same-origin",
	"Cross-Origin-Opener-Policy": "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
};

/** Sets the CSP and the other security headers on every dashboard response, errors included. */
export const dashboardHeaders = (): MiddlewareHandler =>
	async function dashboardHeaders(c, next) {
		await next();
		for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
		// Pages and fragments show live data and must not be kept by caches (assets set their own).
		if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
	};

/**
 * Refuses state-changing requests that do not come from a dashboard page (cross-site request
 * forgery). The session cookie is SameSite=Strict already; this is the second, independent check:
 * `Origin` must be this server's origin, or, when a browser omits Origin, `Sec-Fetch-Site` must
 * say same-origin. A request with neither is refused (browsers send one or the other).
 */
export const sameOriginOnly = (): MiddlewareHandler =>
	async function sameOriginOnly(c, next) {
		if (c.req.method === "GET" || c.req.method === "HEAD") return next();
		if (!isSameOrigin(c.req.url, c.req.header("Origin"), c.req.header("Sec-Fetch-Site"))) {
			return c.text("Cross-site request refused.", 403);
		}
		return next();
	};

function isSameOrigin(requestUrl: string, origin: string | undefined, fetchSite: string | undefined): boolean {
	if (origin !== undefined) return origin === new URL(requestUrl).origin;
	return fetchSite === "same-origin";
}
