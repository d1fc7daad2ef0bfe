import type { MiddlewareHandler } from "hono";
import { ProblemError } from "../errors";
import { MAX_BODY_BYTES } from "../schemas";

// The same media types Hono's json validator accepts, so the two never disagree.
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const CHARSET_PARAM = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/**
 * Guards a JSON body before validation: 415 unless it is plain UTF-8 JSON, 413 over `limit` bytes.
 * The body is read from its stream with the limit enforced as it arrives: at the first byte over
 * it the stream is cancelled and the rest is never read (a chunked body has no Content-Length to
 * check up front). The text goes into Hono's body cache, from which the route's validator parses
 * it once (a malformed body becomes 400 in onError).
 */
export const jsonBody = ({ limit = MAX_BODY_BYTES }: { limit?: number } = {}): MiddlewareHandler =>
	async function jsonBody(c, next) {
		const contentType = c.req.header("Content-Type") ?? "";
		const mediaType = contentType.split(";")[0]?.trim() ?? "";
		if (!JSON_MEDIA_TYPE.test(mediaType)) {
			throw new ProblemError("unsupported-media-type", "Send the body as JSON with Content-Type: application/json.");
		}
		const charset = CHARSET_PARAM.exec(contentType)?.[1]?.toLowerCase();
		if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
			throw new ProblemError("unsupported-media-type", `JSON is read as UTF-8 only; charset "${charset}" is not supported.`);
		}
		// A compressed body would reach the validator as compressed bytes (or be inflated past the limit).
		const encoding = c.req.header("Content-Encoding")?.trim().toLowerCase();
		if (encoding !== undefined && encoding !== "" && encoding !== "identity") {
			throw new ProblemError("unsupported-media-type", `Content-Encoding "${encoding}" is not supported; send the body uncompressed.`);
		}
		const tooLarge = new ProblemError("payload-too-large", `The request body is larger than ${describeBytes(limit)}.`);
		if (Number(c.req.header("Content-Length") ?? 0) > limit) throw tooLarge;
		const bytes = await readAtMost(c.req.raw.body, limit);
		if (bytes === null) throw tooLarge;
		let text: string;
		try {
			text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
		} catch {
			throw new ProblemError("bad-request", "The request body is not valid UTF-8.");
		}
		// Hono keeps promises in its body cache (its type declares the resolved values); the json
		// validator reads `text` from there instead of the request, which we have consumed.
		Object.assign(c.req.bodyCache, { text: Promise.resolve(text) });
		await next();
	};

/**
 * The whole body if it has at most `limit` bytes; null (with the stream cancelled, so the sender
 * is cut off rather than drained) as soon as it has more.
 */
async function readAtMost(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array | null> {
	if (body === null) return new Uint8Array(0);
	const reader = body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		size += value.byteLength;
		if (size > limit) {
			await reader.cancel("request body over the limit").catch(() => {});
			return null;
		}
		chunks.push(value);
	}
	if (chunks.length === 1 && chunks[0]) return chunks[0];
	const bytes = new Uint8Array(size);
	let offset = 0;
	for (const chunk of chunks) {
		bytes.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return bytes;
}

/** "1048576 bytes (1 MiB)", "10485760 bytes (10 MiB)". */
function describeBytes(bytes: number): string {
	const mib = bytes / (1024 * 1024);
	return Number.isInteger(mib) ? `${bytes} bytes (${mib} MiB)` : `${bytes} bytes`;
}
