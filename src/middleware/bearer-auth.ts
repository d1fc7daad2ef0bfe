import type { MiddlewareHandler } from "hono";
import { ProblemError } from "../errors";

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="taskflare"' };

/**
 * Requires `Authorization: Bearer <API_TOKEN>`. Fails closed: with no API_TOKEN configured every
 * request is refused. Tokens are compared as SHA-256 digests with timingSafeEqual, so neither
 * their contents nor their lengths leak through timing.
 */
export const bearerAuth = (): MiddlewareHandler<{ Bindings: Env }> =>
	async function bearerAuth(c, next) {
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

async function sameToken(a: string, b: string): Promise<boolean> {
	const encoder = new TextEncoder();
	const [da, db] = await Promise.all([
		crypto.subtle.digest("SHA-256", encoder.encode(a)),
		crypto.subtle.digest("SHA-256", encoder.encode(b)),
	]);
	return crypto.subtle.timingSafeEqual(da, db);
}
