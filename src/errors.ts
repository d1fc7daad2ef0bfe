// The one HTTP error type. Anything thrown while serving a request ends in `onError` (app.ts),
// which turns a ProblemError into an RFC 9457 `application/problem+json` response and every
// other error into a generic 500 that reveals nothing internal.
import type { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Problem } from "./schemas";

type ProblemKind = {
	status: ContentfulStatusCode;
	title: string;
};

/** Every kind of problem the API answers with; `type` is `urn:taskflare:problem:<kind>`. */
export const PROBLEMS = {
	"bad-request": { status: 400, title: "Bad Request" },
	unauthorized: { status: 401, title: "Unauthorized" },
	"not-found": { status: 404, title: "Not Found" },
	"method-not-allowed": { status: 405, title: "Method Not Allowed" },
	conflict: { status: 409, title: "Conflict" },
	"payload-too-large": { status: 413, title: "Payload Too Large" },
	"unsupported-media-type": { status: 415, title: "Unsupported Media Type" },
	"validation-failed": { status: 422, title: "Validation Failed" },
	"too-many-requests": { status: 429, title: "Too Many Requests" },
	internal: { status: 500, title: "Internal Server Error" },
	unavailable: { status: 503, title: "Service Unavailable" },
} as const satisfies Record<string, ProblemKind>;

export type ProblemType = keyof typeof PROBLEMS;
export type FieldError = { path: string; message: string };

export class ProblemError extends Error {
	override readonly name = "ProblemError";
	readonly status: ContentfulStatusCode;
	readonly headers: Record<string, string>;

	constructor(
		readonly kind: ProblemType,
		// Required: every problem says what went wrong (the OpenAPI document promises a detail).
		readonly detail: string,
		options: { errors?: FieldError[]; headers?: Record<string, string> } = {},
	) {
		super(detail);
		this.status = PROBLEMS[kind].status;
		this.errors = options.errors;
		this.headers = options.headers ?? {};
	}

	readonly errors: FieldError[] | undefined;

	toProblem(): Problem {
		return {
			type: `urn:taskflare:problem:${this.kind}`,
			title: PROBLEMS[this.kind].title,
			status: this.status,
			detail: this.detail,
			...(this.errors === undefined ? {} : { errors: this.errors }),
		};
	}

	toResponse(): Response {
		return new Response(JSON.stringify(this.toProblem()), {
			status: this.status,
			headers: { "content-type": "application/problem+json", ...this.headers },
		});
	}
}

/** Formats zod issues as `{path, message}` with dotted paths under `prefix` (e.g. `payload.ms`). */
export function fieldErrors(error: z.ZodError, prefix: readonly PropertyKey[] = []): FieldError[] {
	const dotted = (path: readonly PropertyKey[]) => [...prefix, ...path].map(String).join(".");
	return error.issues.flatMap((issue) =>
		// An unknown field is reported at the field itself, not at the object holding it.
		issue.code === "unrecognized_keys"
			? issue.keys.map((key) => ({ path: dotted([...issue.path, key]), message: `Unknown field "${key}".` }))
			: [{ path: dotted(issue.path), message: issue.message }],
	);
}

export function validationProblem(error: z.ZodError, prefix: readonly PropertyKey[] = []): ProblemError {
	const errors = fieldErrors(error, prefix);
	return new ProblemError("validation-failed", "The request did not pass validation; see errors.", { errors });
}

/**
 * The 422 for a part of the request (`json`, `query`, `param`, `header`) that failed its route's
 * schema. Hono hands headers over with lowercase names; a problem names a header as it is written
 * (`Idempotency-Key`), as the problems raised after validation do.
 */
export function requestValidationProblem(error: z.ZodError, target: string): ProblemError {
	const problem = validationProblem(error);
	if (target !== "header" || problem.errors === undefined) return problem;
	const errors = problem.errors.map(({ path, message }) => ({ path: headerAsWritten(path), message }));
	return new ProblemError("validation-failed", problem.detail, { errors });
}

/** `idempotency-key` → `Idempotency-Key`: a header name as it is written (problems, the OpenAPI document). */
export function headerAsWritten(name: string): string {
	return name.replace(/(^|-)[a-z]/g, (start) => start.toUpperCase());
}
