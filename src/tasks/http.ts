// The `http` task type: each attempt sends one signed request (outbound/send.ts) to a URL that
// HTTP_ALLOWED_HOSTS allows, so the work itself can live in a service in any language. A 2xx
// succeeds with {status, headers, body}; 408, 429 and 5xx are retried (after `Retry-After` when
// given); any other status fails at once; network errors and timeouts are retried.
import { z } from "zod";
import { MAX_URL_LENGTH } from "../outbound/allow-list";
import { outboundProblem, retryAfterSeconds, sendSigned } from "../outbound/send";
import { JsonValue, MAX_BODY_BYTES } from "../schemas";
import { defineTask, NonRetryableError, RetryLaterError } from "./define-task";

/** Longest wait for a response (the payload's `timeoutSeconds`, default 30). */
const MAX_REQUEST_TIMEOUT_SECONDS = 300;
/** At most this many request headers, of at most this many bytes together (names and values). */
const MAX_HEADERS = 50;
const MAX_HEADER_BYTES = 8 * 1024;
/** A response body is read up to the result limit: a longer one fails the attempt at once. */
const MAX_RESPONSE_BYTES = MAX_BODY_BYTES;
/** How much of a refused answer's body the error message quotes. */
const ERROR_BODY_CHARS = 200;

/** Set by taskflare (framing, or the signature): a payload cannot set them. */
const RESERVED_HEADERS = new Set([
	"host",
	"content-length",
	"connection",
	"keep-alive",
	"transfer-encoding",
	"te",
	"trailer",
	"upgrade",
	"proxy-connection",
	"webhook-id",
	"webhook-timestamp",
	"webhook-signature",
]);

const HeaderName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$/, "Must be an HTTP header name (a token).");
const HeaderValue = z
	.string()
	.max(MAX_HEADER_BYTES)
	.regex(/^[^\r\n\0]*$/, "Must not contain line breaks or NUL.");

/** What a submitter sends (z.input: `method` and `timeoutSeconds` may be left out). */
export type HttpTaskPayload = z.input<typeof HttpTaskPayload>;
export const HttpTaskPayload = z
	.strictObject({
		url: z.string().min(1).max(MAX_URL_LENGTH).describe("http(s) URL; its host must be allowed by HTTP_ALLOWED_HOSTS."),
		method: z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]).default("POST"),
		headers: z
			.record(HeaderName, HeaderValue)
			.optional()
			.superRefine((headers, ctx) => {
				if (!headers) return;
				const names = Object.keys(headers);
				if (names.length > MAX_HEADERS) ctx.addIssue({ code: "custom", message: `At most ${MAX_HEADERS} headers.` });
				const bytes = names.reduce((sum, name) => sum + name.length + (headers[name]?.length ?? 0), 0);
				if (bytes > MAX_HEADER_BYTES)
					ctx.addIssue({ code: "custom", message: `Headers are limited to ${MAX_HEADER_BYTES} bytes together.` });
				for (const name of names) {
					if (RESERVED_HEADERS.has(name.toLowerCase())) {
						ctx.addIssue({ code: "custom", path: [name], message: `"${name}" is set by taskflare and cannot be given.` });
					}
				}
			})
			.describe("Request headers. Stored with the task and shown in its record: do not put credentials here."),
		body: JsonValue.optional().describe("A string is sent as is (text/plain unless headers say otherwise); any other JSON as JSON."),
		timeoutSeconds: z.int().min(1).max(MAX_REQUEST_TIMEOUT_SECONDS).default(30).describe("How long to wait for the response."),
	})
	.refine((payload) => payload.body === undefined || (payload.method !== "GET" && payload.method !== "HEAD"), {
		path: ["body"],
		message: "GET and HEAD requests have no body.",
	});

/** The result of a succeeded `http` task. */
export type HttpTaskResult = { status: number; headers: Record<string, string>; body: JsonValue };

/** A status that failed the attempt. Retryable unless it is a NonRetryableError (see statusError). */
class HttpError extends Error {
	override name = "HttpError";
}
class HttpRetryLaterError extends RetryLaterError {
	override name = "HttpError";
}
class HttpRefusedError extends NonRetryableError {
	override name = "HttpError";
}
/** No response (a network error or the request's own timeout): retryable. */
class RequestFailedError extends Error {
	constructor(
		override readonly name: string,
		message: string,
	) {
		super(message);
	}
}

export const httpTask = defineTask({
	type: "http",
	description:
		"Sends a signed HTTP request (Standard Webhooks headers) to `url`. 2xx: succeeded with {status, headers, body}. " +
		"408, 429, 5xx, network errors and timeouts: retried (after Retry-After when given). Other statuses: failed at once.",
	input: HttpTaskPayload,
	maxAttempts: 5,
	// The request's own timeout (at most 300 s) ends it first; this bounds the attempt around it.
	timeoutSeconds: MAX_REQUEST_TIMEOUT_SECONDS + 30,
	check: (payload, env) => {
		const problem = outboundProblem(env, payload.url);
		return problem === null ? [] : [{ path: "url", message: problem }];
	},
	async run(payload, ctx) {
		const body = payload.body === undefined ? "" : typeof payload.body === "string" ? payload.body : JSON.stringify(payload.body);
		const headers: Record<string, string> = { ...payload.headers, "taskflare-task-id": ctx.id, "taskflare-attempt": String(ctx.attempt) };
		if (payload.body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === "content-type")) {
			headers["content-type"] = typeof payload.body === "string" ? "text/plain; charset=utf-8" : "application/json";
		}
		const sent = await sendSigned(ctx.env, {
			url: payload.url,
			method: payload.method,
			headers,
			body,
			// One id for every attempt of the task: the receiver can de-duplicate with it.
			webhookId: `task_${ctx.id}`,
			timeoutMs: payload.timeoutSeconds * 1000,
			signal: ctx.signal,
		});
		if (sent.kind === "refused") throw new HttpRefusedError(sent.message);
		if (sent.kind === "failed") throw new RequestFailedError(sent.name, sent.message);
		const { response } = sent;
		if (response.status >= 200 && response.status < 300) {
			const text = await readText(response, MAX_RESPONSE_BYTES);
			if (text === null) throw new HttpRefusedError(`The response body is over ${MAX_RESPONSE_BYTES} bytes (1 MiB), the result limit.`);
			const result: HttpTaskResult = { status: response.status, headers: responseHeaders(response), body: parseBody(response, text) };
			return result;
		}
		throw await statusError(response);
	},
});

/** The error an unsuccessful status ends the attempt with; `Retry-After` is honoured where retrying makes sense. */
async function statusError(response: Response): Promise<Error> {
	const { status } = response;
	const quoted = (await readText(response, ERROR_BODY_CHARS * 4, { cut: true })).slice(0, ERROR_BODY_CHARS);
	const message = `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ""}${quoted ? `: ${quoted}` : ""}`;
	if (status === 408 || status === 429 || status >= 500) {
		const after = retryAfterSeconds(response.headers.get("retry-after"));
		return after === null ? new HttpError(message) : new HttpRetryLaterError(message, after);
	}
	if (status >= 300 && status < 400) {
		return new HttpRefusedError(`${message} (redirects are not followed; Location: ${response.headers.get("location") ?? "none"})`);
	}
	return new HttpRefusedError(message);
}

/**
 * The body as text, or null when it is longer than `limit` bytes (then it is not read further);
 * with `cut`, its first `limit` bytes instead.
 */
async function readText(response: Response, limit: number, options: { cut: true }): Promise<string>;
async function readText(response: Response, limit: number): Promise<string | null>;
async function readText(response: Response, limit: number, { cut = false } = {}): Promise<string | null> {
	if (!response.body) return "";
	const reader = response.body.getReader();
	const chunks: Uint8Array[] = [];
	let bytes = 0;
	for (;;) {
		const read: ReadableStreamReadResult<unknown> = await reader.read();
		if (read.done) break;
		const value = read.value;
		if (!(value instanceof Uint8Array)) throw new TypeError("A response body chunk is not bytes.");
		if (bytes + value.byteLength > limit) {
			await reader.cancel();
			if (!cut) return null;
			chunks.push(value.subarray(0, limit - bytes));
			bytes = limit;
			break;
		}
		bytes += value.byteLength;
		chunks.push(value);
	}
	const all = new Uint8Array(bytes);
	let offset = 0;
	for (const chunk of chunks) {
		all.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return new TextDecoder().decode(all);
}

/** JSON when the response says it is JSON (and it parses), else the text. */
function parseBody(response: Response, text: string): JsonValue {
	if (!/[/+]json\b/i.test(response.headers.get("content-type") ?? "")) return text;
	try {
		return JsonValue.parse(JSON.parse(text));
	} catch {
		return text;
	}
}

/** Left out of a result's headers: cookies (no place in a stored record) and the connection's own. */
const UNKEPT_RESPONSE_HEADERS = new Set(["set-cookie", "connection", "keep-alive", "transfer-encoding"]);

/** Response headers, lower-case names. */
function responseHeaders(response: Response): Record<string, string> {
	const headers: Record<string, string> = {};
	for (const [name, value] of response.headers) if (!UNKEPT_RESPONSE_HEADERS.has(name)) headers[name] = value;
	return headers;
}
