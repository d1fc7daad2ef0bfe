import type { MiddlewareHandler } from "hono";
import { ProblemError } from "../errors";
import { MAX_BODY_BYTES } from "../schemas";

// The same media types Hono's json validator accepts, so the two never disagree.
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Guards a JSON body before validation: 415 unless the Content-Type is JSON, 413 over `limit`
 * bytes. The body is read once into Hono's body cache; the route's validator parses it from
 * there (a malformed body becomes 400 in onError).
 */
export const jsonBody = ({ limit = MAX_BODY_BYTES }: { limit?: number } = {}): MiddlewareHandler =>
	async function jsonBody(c, next) {
		const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
		if (!JSON_MEDIA_TYPE.test(mediaType)) {
			throw new ProblemError("unsupported-media-type", "Send the body as JSON with Content-Type: application/json.");
		}
		const tooLarge = () =>
			new ProblemError("payload-too-large", `The request body is larger than ${limit} bytes (1 MiB).`);
		if (Number(c.req.header("Content-Length") ?? 0) > limit) throw tooLarge();
		if ((await c.req.arrayBuffer()).byteLength > limit) throw tooLarge();
		await next();
	};
