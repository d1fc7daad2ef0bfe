// A small plain-HTTP client for the e2e tests: what any client of taskflare would do, with fetch.
// Bodies are parsed with the wire schemas of src/schemas.ts, never cast. Every 5xx answer is
// remembered in `serverErrors`, so a test file can assert that none happened at all.
import { type ClientRequest, request as httpRequest } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import type { z } from "zod";
import { Problem, type SubmitTaskBody, TaskRecord, type TaskStatus } from "../../src/schemas";

export type ApiResponse = {
	method: string;
	path: string;
	status: number;
	headers: Headers;
	text: string;
};

export type RequestOptions = {
	/** Sent as JSON with Content-Type: application/json. */
	json?: unknown;
	/** A raw body (for malformed or oversized bodies); Content-Type is `contentType`. */
	body?: string;
	contentType?: string;
	/** Bearer token to send: the client's own by default, `null` for no Authorization header. */
	token?: string | null;
	headers?: Readonly<Record<string, string>>;
};

/** Longer than the longest ?wait (60 s): a request taking this long is hung. */
const REQUEST_TIMEOUT_MS = 75_000;

/** The statuses after which a task never changes again. */
export const TERMINAL_STATUSES: readonly TaskStatus[] = ["succeeded", "failed", "cancelled"];

export class ApiClient {
	/** One line per 5xx answer seen by this client: "METHOD path → status: body". */
	readonly serverErrors: string[] = [];

	constructor(
		readonly baseUrl: string,
		private readonly token: string,
	) {}

	async request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
		const headers = new Headers(options.headers);
		const token = options.token === undefined ? this.token : options.token;
		if (token !== null) headers.set("Authorization", `Bearer ${token}`);
		let body: string | undefined = options.body;
		if (options.json !== undefined) {
			body = JSON.stringify(options.json);
			headers.set("Content-Type", "application/json");
		}
		if (options.contentType !== undefined) headers.set("Content-Type", options.contentType);
		const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
		const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body, signal });
		return this.remember({ method, path, status: response.status, headers: response.headers, text: await response.text() });
	}

	/**
	 * POSTs `chunks` with Transfer-Encoding: chunked, i.e. without a Content-Length, so the server
	 * only learns the body's size by reading it. (fetch cannot easily do this; node:http can.)
	 */
	postChunked(path: string, contentType: string, chunks: readonly string[]): Promise<ApiResponse> {
		return new Promise((resolve, reject) => {
			const url = new URL(path, this.baseUrl);
			const req = httpRequest(url, {
				method: "POST",
				signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
				headers: { Authorization: `Bearer ${this.token}`, "Content-Type": contentType, "Transfer-Encoding": "chunked" },
			});
			req.once("error", reject);
			req.once("response", (res) => {
				const parts: Buffer[] = [];
				res.on("data", (part: Buffer) => parts.push(part));
				res.once("error", reject);
				res.once("end", () => {
					const headers = new Headers();
					for (const [name, value] of Object.entries(res.headers)) {
						if (typeof value === "string") headers.set(name, value);
						else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
					}
					const text = Buffer.concat(parts).toString("utf8");
					resolve(this.remember({ method: "POST", path, status: res.statusCode ?? 0, headers, text }));
				});
			});
			// The server may answer (413) before it read everything; stop writing then.
			const writeAll = async () => {
				for (const chunk of chunks) {
					if (req.destroyed) return;
					if (!req.write(chunk)) await drainedOrClosed(req);
				}
				req.end();
			};
			writeAll().catch(reject);
		});
	}

	/** POST /v1/tasks; the record of the queued task, or an error unless the answer is 202. */
	async submit(body: SubmitTaskBody): Promise<{ record: TaskRecord; location: string | null }> {
		const response = await this.request("POST", "/v1/tasks", { json: body });
		expectStatus(response, 202);
		return { record: parseJson(response, TaskRecord), location: response.headers.get("Location") };
	}

	/** GET /v1/tasks/{id}, long-polling up to `waitSeconds`; an error unless the answer is 200. */
	async getTask(id: string, waitSeconds?: number): Promise<TaskRecord> {
		const query = waitSeconds === undefined ? "" : `?wait=${waitSeconds}`;
		const response = await this.request("GET", `/v1/tasks/${id}${query}`);
		expectStatus(response, 200);
		return parseJson(response, TaskRecord);
	}

	/**
	 * Long-polls the task until its status is terminal and returns that record. Gives up with an
	 * error (naming the last status seen) after `deadlineMs` milliseconds.
	 */
	async waitForTerminal(id: string, deadlineMs: number): Promise<TaskRecord> {
		const deadline = Date.now() + deadlineMs;
		let record: TaskRecord | undefined;
		for (;;) {
			const remainingMs = deadline - Date.now();
			// Hold each request at most 10 s (and never past the deadline) so a hung poll is noticed.
			const waitSeconds = Math.max(0, Math.min(10, Math.floor(remainingMs / 1000)));
			record = await this.getTask(id, waitSeconds);
			if (TERMINAL_STATUSES.includes(record.status)) return record;
			if (Date.now() >= deadline) break;
			// Only when less than a second is left does the server answer at once: poll gently.
			if (waitSeconds === 0) await delay(100);
		}
		throw new TaskDeadlineError(id, deadlineMs, record);
	}

	private remember(response: ApiResponse): ApiResponse {
		if (response.status >= 500) {
			this.serverErrors.push(`${response.method} ${response.path} → ${response.status}: ${response.text.slice(0, 300)}`);
		}
		return response;
	}
}

function drainedOrClosed(req: ClientRequest): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			req.off("drain", done).off("close", done);
			resolve();
		};
		req.on("drain", done).on("close", done);
	});
}

/** waitForTerminal's error: the task was still open at the deadline. */
export class TaskDeadlineError extends Error {
	override readonly name = "TaskDeadlineError";
	constructor(
		readonly id: string,
		readonly deadlineMs: number,
		readonly lastRecord: TaskRecord,
	) {
		const last = `last status ${lastRecord.status} after ${lastRecord.attempts} attempt(s)`;
		super(`task ${id} not terminal within ${deadlineMs} ms: ${last}`);
	}
}

/** Throws, showing the body, unless the response has this status. */
export function expectStatus(response: ApiResponse, status: number): void {
	if (response.status !== status) {
		throw new Error(`${response.method} ${response.path}: expected ${status}, got ${response.status}: ${response.text.slice(0, 500)}`);
	}
}

/** Parses the JSON body with a wire schema; the error names the request and shows the body. */
export function parseJson<S extends z.ZodType>(response: ApiResponse, schema: S): z.output<S> {
	let value: unknown;
	try {
		value = JSON.parse(response.text);
	} catch {
		throw new Error(`${response.method} ${response.path} (${response.status}): body is not JSON: ${response.text.slice(0, 300)}`);
	}
	const parsed = schema.safeParse(value);
	if (!parsed.success) {
		throw new Error(
			`${response.method} ${response.path} (${response.status}): body does not match the schema: ` +
				`${parsed.error.message}\n${response.text.slice(0, 300)}`,
		);
	}
	return parsed.data;
}

/** An RFC 9457 problem answer: checks the media type and the status inside the document. */
export function parseProblem(response: ApiResponse): Problem {
	const mediaType = response.headers.get("Content-Type")?.split(";")[0]?.trim();
	if (mediaType !== "application/problem+json") {
		throw new Error(`${response.method} ${response.path} (${response.status}): Content-Type is ${mediaType}, not application/problem+json`);
	}
	const problem = parseJson(response, Problem);
	if (problem.status !== response.status) {
		throw new Error(`${response.method} ${response.path}: problem says status ${problem.status}, response is ${response.status}`);
	}
	return problem;
}

/** Runs `work` on every item with at most `concurrency` at a time; results in item order. */
export async function mapPool<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
	const results = new Array<R>(items.length);
	// One iterator shared by all workers: each next() hands out a different item.
	const queue = items.entries();
	const worker = async () => {
		for (const [index, item] of queue) results[index] = await work(item, index);
	};
	await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
	return results;
}
