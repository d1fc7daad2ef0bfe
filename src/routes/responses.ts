// OpenAPI response entries shared by the route groups.
import type { TypedResponse } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { Problem } from "../schemas";
import { PROBLEMS, type ProblemType } from "../errors";

const DESCRIPTIONS: Partial<Record<ProblemType, string>> = {
	"bad-request": "The body is not valid JSON.",
	unauthorized: "Missing or wrong bearer token.",
	"not-found": "No such task or schedule (or the id is malformed).",
	conflict: "The task's status does not allow this (schedules: the limit of 10,000 is reached).",
	"payload-too-large": "The body is larger than the route's limit (1 MiB; batch: 10 MiB).",
	"unsupported-media-type": "The body is not application/json, declares a charset other than UTF-8, or has a Content-Encoding.",
	"validation-failed": "The body or parameters failed validation; `errors` lists each problem with its path.",
	unavailable: "A task's Durable Object could not be reached; `detail` says what was kept. Retry (see Retry-After).",
	"too-many-requests": "Too many at once; try again after `Retry-After` seconds.",
};

type ResponseHeaders = Record<
	string,
	{ required: true; description: string; schema: { type: "string" } | { type: "integer"; minimum: number } }
>;

const retryAfter: ResponseHeaders = {
	"Retry-After": { required: true, description: "Seconds to wait before trying again.", schema: { type: "integer", minimum: 0 } },
};

/** The headers every problem of a kind carries (bearer-auth.ts, and the throws of 429 and 503). */
const HEADERS: Partial<Record<ProblemType, ResponseHeaders>> = {
	unauthorized: {
		"WWW-Authenticate": { required: true, description: 'The challenge: `Bearer realm="taskflare"`.', schema: { type: "string" } },
	},
	"too-many-requests": retryAfter,
	unavailable: retryAfter,
};

/** `{ 401: {...}, 404: {...} }` entries with the problem+json schema, for `createRoute`. */
export function problemResponses<const K extends ProblemType>(...kinds: K[]) {
	return Object.fromEntries(
		kinds.map((kind) => [
			PROBLEMS[kind].status,
			{
				description: DESCRIPTIONS[kind] ?? PROBLEMS[kind].title,
				...(HEADERS[kind] === undefined ? {} : { headers: HEADERS[kind] }),
				content: { "application/problem+json": { schema: Problem } },
			},
		]),
	);
}

export const bearerSecurity = [{ bearerAuth: [] }];

/** The header of a 200 that answers a repeated Idempotency-Key with what the first request made. */
export const replayedHeader = { "Idempotent-Replayed": { required: true, schema: { type: "string" as const, enum: ["true"] } } };

/** The `Location` header (always sent) of an answer that created or names a resource at `path`. */
export const locationHeader = (path: string) => ({ Location: { required: true, description: path, schema: { type: "string" as const } } });

/**
 * Serves JSON text that is already a valid `T` (a record serialised by its Durable Object) without
 * parsing and re-serialising it. The type assertion only restates what the object produced.
 */
export function jsonText<T, S extends ContentfulStatusCode>(
	json: string,
	status: S,
	headers: Record<string, string> = {},
): Response & TypedResponse<T, S, "json"> {
	const response = new Response(json, { status, headers: { "content-type": "application/json", ...headers } });
	// The typed-response brand exists only in types: the body is the stored JSON of type T.
	// oxlint-disable-next-line typescript/no-unsafe-type-assertion
	return response as Response & TypedResponse<T, S, "json">;
}
