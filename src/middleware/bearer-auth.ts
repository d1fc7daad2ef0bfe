import type { MiddlewareHandler } from "hono";
import { ProblemError } from "../errors";
import type { AppEnv } from "../router";

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="taskflare"' };

/**
 * Requires `Authorization: Bearer <API_TOKEN>`. Fails closed: with no API_TOKEN configured every
 * request is refused. Tokens are compared as SHA-256 digests with timingSafeEqual, so neither
 * their contents nor their lengths leak through timing. With the entry's `auth: "none"` the host
 * app's own middleware protects the routes instead (taskflare.ts), and nothing is checked here.
 */
export const bearerAuth = (): MiddlewareHandler<AppEnv> =>
	async function bearerAuth(c, next) {
		if (c.var.auth === "none") return next();
		const expected = c.env.API_TOKEN;
		if (!expected) {
			throw new ProblemError("unauthorized", "This server has no API token configured, so its API is closed.", {
				headers: CHALLENGE,
			});
		}
		const given = /^Bearer +(\S+) *$/i.exec(c.req.header("Authorization") ?? "")?.[1];
		if (given === undefined || !(await sameToken(given, expected))) {
			throw new ProblemError("unauthorized", "Send Authorization: Bearer <API_TOKEN>.", { headers: CHALLENGE });
		}
		await next();
	};

const digest = (text: string) => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
/** The configured token's digest, computed once per token value rather than per request. */
let expectedDigest: { token: string; digest: Promise<ArrayBuffer> } | undefined;

export async function sameToken(given: string, expected: string): Promise<boolean> {
	if (expectedDigest?.token !== expected) expectedDigest = { token: expected, digest: digest(expected) };
	const [a, b] = await Promise.all([digest(given), expectedDigest.digest]);
	return crypto.subtle.timingSafeEqual(a, b);
}
