// Dashboard sessions: a signed, expiring cookie instead of the API token. The token is typed
// once on the sign-in page and never stored in the browser; the cookie holds only an expiry, a
// random id and an HMAC-SHA256 over both, keyed by a key derived (HKDF) from API_TOKEN. So:
//  - no server-side session store (nothing to clean up, nothing to leak);
//  - rotating API_TOKEN signs every session out at once; with no API_TOKEN nobody can sign in;
//  - a forged, tampered or expired cookie is simply not a session.
// The cookie is HttpOnly (no script can read it), Secure (browsers accept Secure cookies from
// http://localhost, so `wrangler dev` works), SameSite=Strict and __Host- prefixed (sent only to
// this exact origin, never set by a subdomain).
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { InternalEnv } from "../environment";

export const SESSION_COOKIE = "__Host-taskflare-session";
/** A session lasts 8 hours (a working day), then the token is asked for again. */
export const SESSION_TTL_SECONDS = 8 * 3600;

const encoder = new TextEncoder();

function base64url(bytes: ArrayBuffer | Uint8Array): string {
	const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
	let binary = "";
	for (const byte of view) binary += String.fromCharCode(byte);
	return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array | null {
	if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
	try {
		const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
		return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
	} catch {
		return null;
	}
}

/** The signing key for a token, derived once per token value. */
let cachedKey: { token: string; key: Promise<CryptoKey> } | undefined;

function sessionKey(token: string): Promise<CryptoKey> {
	if (cachedKey?.token !== token) {
		const key = crypto.subtle
			.importKey("raw", encoder.encode(token), "HKDF", false, ["deriveKey"])
			.then((material) =>
				crypto.subtle.deriveKey(
					{ name: "HKDF", hash: "SHA-256", salt: encoder.encode("taskflare"), info: encoder.encode("dashboard-session-v1") },
					material,
					{ name: "HMAC", hash: "SHA-256", length: 256 },
					false,
					["sign", "verify"],
				),
			);
		cachedKey = { token, key };
	}
	return cachedKey.key;
}

/** A new session value: `<expires (unix s)>.<random id>.<signature>`. */
export async function createSessionValue(token: string, now = Date.now()): Promise<string> {
	const expires = Math.floor(now / 1000) + SESSION_TTL_SECONDS;
	const body = `${expires}.${base64url(crypto.getRandomValues(new Uint8Array(16)))}`;
	const signature = await crypto.subtle.sign("HMAC", await sessionKey(token), encoder.encode(body));
	return `${body}.${base64url(signature)}`;
}

/** Whether `value` is a session signed with this token's key that has not expired. */
export async function verifySessionValue(token: string, value: string, now = Date.now()): Promise<boolean> {
	const match = /^(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(value);
	if (!match?.[1] || !match[2] || !match[3]) return false;
	const expires = Number(match[1]);
	const nowSeconds = now / 1000;
	// Expired, or further ahead than any session this server issues.
	if (expires <= nowSeconds || expires > nowSeconds + SESSION_TTL_SECONDS + 60) return false;
	const signature = fromBase64url(match[3]);
	if (!signature) return false;
	// crypto.subtle.verify compares in constant time.
	return crypto.subtle.verify("HMAC", await sessionKey(token), signature, encoder.encode(`${match[1]}.${match[2]}`));
}

export async function startSession(c: Context, token: string): Promise<void> {
	setCookie(c, SESSION_COOKIE, await createSessionValue(token), {
		path: "/",
		httpOnly: true,
		secure: true,
		sameSite: "Strict",
		maxAge: SESSION_TTL_SECONDS,
	});
}

export function endSession(c: Context): void {
	deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true, httpOnly: true, sameSite: "Strict" });
}

/** Whether the request carries a valid session. Closed when no API_TOKEN is configured. */
export async function hasSession(c: Context<{ Bindings: InternalEnv }>): Promise<boolean> {
	const token = c.env.API_TOKEN;
	if (!token) return false;
	const value = getCookie(c, SESSION_COOKIE);
	return value !== undefined && (await verifySessionValue(token, value));
}

/**
 * Requires a session. A page request without one is sent to the sign-in page; an htmx or event
 * stream request gets 401 (with HX-Redirect, so htmx moves the whole page to sign-in).
 */
export const requireSession = (): MiddlewareHandler<{ Bindings: InternalEnv }> =>
	async function requireSession(c, next) {
		if (await hasSession(c)) return next();
		const signIn = "/dashboard/sign-in";
		if (c.req.header("HX-Request") === "true" || c.req.header("Accept")?.includes("text/event-stream")) {
			return c.body(null, 401, { "HX-Redirect": signIn });
		}
		if (c.req.method === "GET" || c.req.method === "HEAD") {
			const url = new URL(c.req.url);
			return c.redirect(`${signIn}?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
		}
		return c.body(null, 401);
	};
