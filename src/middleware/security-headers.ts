import type { MiddlewareHandler } from "hono";

/**
 * Headers for every response of the routes it guards, error answers included: `nosniff` so a
 * browser never reads JSON or a problem document as something else; with `noStore`, also
 * `Cache-Control: no-store`, for answers that depend on the bearer token (no cache may keep them).
 */
export const securityHeaders = ({ noStore = false }: { noStore?: boolean } = {}): MiddlewareHandler =>
	async function securityHeaders(c, next) {
		await next();
		c.res.headers.set("X-Content-Type-Options", "nosniff");
		if (noStore) c.res.headers.set("Cache-Control", "no-store");
	};
