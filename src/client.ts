// The typed client for taskflare, for TypeScript on Node.js ≥ 22 and on Workers (it needs only
// fetch and web streams). Every response is parsed with the same zod schemas the API validates
// with, and every error answer becomes a TaskflareError carrying the problem document.
import { z } from "zod";
import {
	type BulkActionBody,
	isTerminal,
	OperationRecord,
	Problem,
	type SubmitTaskBody,
	TaskEvent,
	type TaskFilter,
	TaskPage,
	type TaskStatus,
	TaskRecord,
	TaskRecordList,
	TaskStats,
	type TaskSummary,
	type TaskTypeInfo,
	TaskTypeList,
} from "./schemas";
import { type ScheduleBody, ScheduleDetail, ScheduleList, type SchedulePatch } from "./schedule-schemas";
import { LimitInfo, LimitList, type LimitsOverride } from "./limit-schemas";

export type {
	BulkActionBody,
	OperationRecord,
	Problem,
	SubmitTaskBody,
	TaskEvent,
	TaskFilter,
	TaskPage,
	TaskRecord,
	TaskStats,
	TaskSummary,
	TaskTypeInfo,
};
export type { TaskStatus };
export type { CallbackDelivery, CallbackRecord, CallbackTarget } from "./schemas";
export type { HttpTaskPayload, HttpTaskResult } from "./tasks/http";
export type { Schedule, ScheduleBody, ScheduleDetail, ScheduleList, SchedulePatch, ScheduleRun } from "./schedule-schemas";
export type { LimitInfo, LimitsOverride, RateLimit, TaskLimits, WaitReason } from "./limit-schemas";

export type ClientOptions = {
	/** Where the Worker answers, e.g. `http://localhost:8787` or `https://taskflare.example.workers.dev`. */
	baseUrl: string;
	/** The API token (`Authorization: Bearer …`). */
	token: string;
	/** A fetch to use instead of the global one (e.g. a service binding's `fetch`). */
	fetch?: (request: Request) => Promise<Response>;
};

/** An error answer of the API (4xx/5xx), with its RFC 9457 problem document. */
export class TaskflareError extends Error {
	override name = "TaskflareError";
	readonly status: number;
	constructor(readonly problem: Problem) {
		super(`${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}`);
		this.status = problem.status;
	}
}

/** `wait()` gave up before the task reached a final state. */
export class WaitTimeoutError extends Error {
	override name = "WaitTimeoutError";
	constructor(readonly lastSeen: TaskRecord) {
		super(`Task ${lastSeen.id} is still ${lastSeen.status}.`);
	}
}

/** `waitForOperation()` gave up while the operation was still running. */
export class OperationTimeoutError extends Error {
	override name = "OperationTimeoutError";
	constructor(readonly lastSeen: OperationRecord) {
		const handled = lastSeen.done + lastSeen.skipped + lastSeen.failed;
		super(`Operation ${lastSeen.id} is still running (${handled} of ${lastSeen.matched} matched tasks handled).`);
	}
}

export type SubmitOptions = { idempotencyKey?: string; signal?: AbortSignal };
export type WaitOptions = { timeoutMs?: number; signal?: AbortSignal };
/** A filter for `list()`; `createdAfter` (inclusive) and `createdBefore` (exclusive) are ISO 8601. */
export type ListOptions = {
	status?: TaskStatus | TaskStatus[];
	type?: string;
	tag?: string;
	createdAfter?: string;
	createdBefore?: string;
	/** 1..200, default 50. */
	limit?: number;
	cursor?: string;
	signal?: AbortSignal;
};

const Submitted = TaskRecord;

export function createClient(options: ClientOptions) {
	const base = options.baseUrl.replace(/\/+$/, "");
	const send = options.fetch ?? ((request: Request) => fetch(request));

	async function call(path: string, init: RequestInit = {}): Promise<Response> {
		const headers = new Headers(init.headers);
		headers.set("Authorization", `Bearer ${options.token}`);
		if (init.body !== undefined) headers.set("Content-Type", "application/json");
		const response = await send(new Request(`${base}${path}`, { ...init, headers }));
		if (!response.ok) throw new TaskflareError(await problemOf(response));
		return response;
	}

	async function json<S extends z.ZodType>(schema: S, path: string, init?: RequestInit): Promise<z.output<S>> {
		return schema.parse(await (await call(path, init)).json());
	}

	const keyHeader = (key: string | undefined): Record<string, string> => (key === undefined ? {} : { "Idempotency-Key": key });
	const taskPath = (id: string) => `/v1/tasks/${encodeURIComponent(id)}`;
	const schedulePath = (id: string) => `/v1/schedules/${encodeURIComponent(id)}`;
	const limitPath = (type: string) => `/v1/limits/${encodeURIComponent(type)}`;

	function list({ signal, ...query }: ListOptions = {}): Promise<TaskPage> {
		const params = new URLSearchParams();
		for (const [name, value] of Object.entries(query)) {
			for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) params.append(name, String(item));
		}
		return json(TaskPage, `/v1/tasks?${params.toString()}`, { signal });
	}

	return {
		/** Submits a task; with `idempotencyKey`, a repeat returns the first task instead. */
		submit(body: SubmitTaskBody, { idempotencyKey, signal }: SubmitOptions = {}): Promise<TaskRecord> {
			return json(Submitted, "/v1/tasks", { method: "POST", body: JSON.stringify(body), headers: keyHeader(idempotencyKey), signal });
		},

		/**
		 * Submits up to 100 tasks at once (all or nothing); records in the same order. With
		 * `idempotencyKey` (covering the whole batch), a repeat returns the first batch's tasks.
		 */
		async submitBatch(tasks: SubmitTaskBody[], { idempotencyKey, signal }: SubmitOptions = {}): Promise<TaskRecord[]> {
			const headers = keyHeader(idempotencyKey);
			const list = await json(TaskRecordList, "/v1/tasks/batch", { method: "POST", body: JSON.stringify({ tasks }), headers, signal });
			return list.tasks;
		},

		get(id: string, { signal }: { signal?: AbortSignal } = {}): Promise<TaskRecord> {
			return json(TaskRecord, taskPath(id), { signal });
		},

		/** Long-polls until the task is final; with `timeoutMs`, throws WaitTimeoutError after it. */
		async wait(id: string, { timeoutMs, signal }: WaitOptions = {}): Promise<TaskRecord> {
			const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
			for (;;) {
				// Rounded up: the server holds the request at most ~1 s past the deadline, instead of
				// the client spinning on ?wait=0 through the last second.
				const seconds = Math.max(0, Math.min(60, Math.ceil((deadline - Date.now()) / 1000)));
				const record = await json(TaskRecord, `${taskPath(id)}?wait=${seconds}`, { signal });
				if (isTerminal(record.status)) return record;
				if (Date.now() >= deadline) throw new WaitTimeoutError(record);
			}
		},

		cancel(id: string, { signal }: { signal?: AbortSignal } = {}): Promise<TaskRecord> {
			return json(TaskRecord, `${taskPath(id)}/cancel`, { method: "POST", signal });
		},

		/** Puts a failed or cancelled task back to queued (same id, a fresh budget of attempts). */
		retry(id: string, { signal }: { signal?: AbortSignal } = {}): Promise<TaskRecord> {
			return json(TaskRecord, `${taskPath(id)}/retry`, { method: "POST", signal });
		},

		/** Deletes a finished task's record, payload and result now. */
		async delete(id: string, { signal }: { signal?: AbortSignal } = {}): Promise<void> {
			await call(taskPath(id), { method: "DELETE", signal });
		},

		/**
		 * Starts a bulk retry, cancel or delete; it runs in the background (see `operation`). With
		 * `idempotencyKey`, a repeat returns the operation the first request started.
		 */
		bulk(body: BulkActionBody, { idempotencyKey, signal }: SubmitOptions = {}): Promise<OperationRecord> {
			return json(OperationRecord, "/v1/tasks/bulk", {
				method: "POST",
				body: JSON.stringify(body),
				headers: keyHeader(idempotencyKey),
				signal,
			});
		},

		operation(id: string, { signal }: { signal?: AbortSignal } = {}): Promise<OperationRecord> {
			return json(OperationRecord, `/v1/operations/${encodeURIComponent(id)}`, { signal });
		},

		/** Stops a running bulk operation (the tasks it has not reached are left alone); 409 once it ended. */
		cancelOperation(id: string, { signal }: { signal?: AbortSignal } = {}): Promise<OperationRecord> {
			return json(OperationRecord, `/v1/operations/${encodeURIComponent(id)}/cancel`, { method: "POST", signal });
		},

		/** Polls a bulk operation every `intervalMs` (default 1 s) until it ended; with `timeoutMs`, throws OperationTimeoutError after it. */
		async waitForOperation(
			id: string,
			{ timeoutMs, intervalMs = 1000, signal }: WaitOptions & { intervalMs?: number } = {},
		): Promise<OperationRecord> {
			const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
			for (;;) {
				const record = await json(OperationRecord, `/v1/operations/${encodeURIComponent(id)}`, { signal });
				if (record.state !== "running") return record;
				if (Date.now() >= deadline) throw new OperationTimeoutError(record);
				await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
				signal?.throwIfAborted();
			}
		},

		/**
		 * The task's state (its record without the payload) on every change, starting with the current
		 * one; ends after the final state. A slow consumer skips to the latest state.
		 */
		async *events(id: string, { signal }: { signal?: AbortSignal } = {}): AsyncGenerator<TaskEvent, void, undefined> {
			const response = await call(`${taskPath(id)}/events`, { signal });
			if (!response.body) return;
			// workers-types type a body as ReadableStream<any>; a fetch body is bytes.
			// oxlint-disable-next-line typescript/no-unsafe-argument
			for await (const data of serverSentData(response.body)) yield TaskEvent.parse(JSON.parse(data));
		},

		/** One page of task summaries, newest first; pass `nextCursor` back as `cursor` for the next. */
		list,

		/** Every task matching the filter, newest first, page after page. */
		async *listAll(options: Omit<ListOptions, "cursor"> = {}): AsyncGenerator<TaskSummary, void, undefined> {
			let cursor: string | undefined;
			do {
				const page: TaskPage = await list({ ...options, cursor });
				yield* page.tasks;
				cursor = page.nextCursor ?? undefined;
			} while (cursor !== undefined);
		},

		/** Counts per status and type, the last hour per minute, the queues' backlogs. */
		stats({ signal }: { signal?: AbortSignal } = {}): Promise<TaskStats> {
			return json(TaskStats, "/v1/stats", { signal });
		},

		async taskTypes({ signal }: { signal?: AbortSignal } = {}): Promise<TaskTypeInfo[]> {
			return (await json(TaskTypeList, "/v1/task-types", { signal })).types;
		},

		/** Flow control: every type's limits with usage; overrides without a deploy. */
		limits: {
			/** Every task type: the limits in effect, the code's, the override, usage and waiting tasks. */
			async list({ signal }: { signal?: AbortSignal } = {}): Promise<LimitInfo[]> {
				return (await json(LimitList, "/v1/limits", { signal })).limits;
			},
			/** Overrides the type's limits (each field given replaces the code's; null removes a limit). */
			put(type: string, override: LimitsOverride, { signal }: { signal?: AbortSignal } = {}): Promise<LimitInfo> {
				return json(LimitInfo, limitPath(type), { method: "PUT", body: JSON.stringify(override), signal });
			},
			/** Removes the override: the code's limits apply again. */
			async delete(type: string, { signal }: { signal?: AbortSignal } = {}): Promise<void> {
				await call(limitPath(type), { method: "DELETE", signal });
			},
		},

		/** Schedules: recurring tasks by cron or interval. */
		schedules: {
			/** Creates a schedule with a generated id (use `put` to choose the id, idempotently). */
			create(body: ScheduleBody, { signal }: { signal?: AbortSignal } = {}): Promise<ScheduleDetail> {
				return json(ScheduleDetail, "/v1/schedules", { method: "POST", body: JSON.stringify(body), signal });
			},
			/** Creates or replaces the schedule `id`; repeating the same body changes nothing. */
			put(id: string, body: ScheduleBody, { signal }: { signal?: AbortSignal } = {}): Promise<ScheduleDetail> {
				return json(ScheduleDetail, schedulePath(id), { method: "PUT", body: JSON.stringify(body), signal });
			},
			/** With the next 5 fire times and the last 20 runs (each with its task's status). */
			get(id: string, { signal }: { signal?: AbortSignal } = {}): Promise<ScheduleDetail> {
				return json(ScheduleDetail, schedulePath(id), { signal });
			},
			/** One page (by id); pass the returned `nextCursor` as `cursor` for the next one. */
			list({ limit, cursor, signal }: { limit?: number; cursor?: string; signal?: AbortSignal } = {}): Promise<ScheduleList> {
				const query = new URLSearchParams();
				if (limit !== undefined) query.set("limit", String(limit));
				if (cursor !== undefined) query.set("cursor", cursor);
				const suffix = query.size > 0 ? `?${query.toString()}` : "";
				return json(ScheduleList, `/v1/schedules${suffix}`, { signal });
			},
			/** Pause (`{paused: true}`), resume (`{paused: false}`) or change fields. */
			update(id: string, patch: SchedulePatch, { signal }: { signal?: AbortSignal } = {}): Promise<ScheduleDetail> {
				return json(ScheduleDetail, schedulePath(id), { method: "PATCH", body: JSON.stringify(patch), signal });
			},
			async delete(id: string, { signal }: { signal?: AbortSignal } = {}): Promise<void> {
				await call(schedulePath(id), { method: "DELETE", signal });
			},
			/** Runs the task now; triggers within the same second return the same task. */
			trigger(id: string, { signal }: { signal?: AbortSignal } = {}): Promise<TaskRecord> {
				return json(TaskRecord, `${schedulePath(id)}/trigger`, { method: "POST", signal });
			},
		},
	};
}

export type TaskflareClient = ReturnType<typeof createClient>;

async function problemOf(response: Response): Promise<Problem> {
	const text = await response.text();
	try {
		const parsed = Problem.safeParse(JSON.parse(text));
		if (parsed.success) return parsed.data;
	} catch {
		// Not JSON: described below.
	}
	return { type: "about:blank", title: response.statusText || "Error", status: response.status, detail: text.slice(0, 500) };
}

/** The `data` of each `event: task` in a Server-Sent Events stream (comments and other events skipped). */
async function* serverSentData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
	const decoder = new TextDecoder();
	let buffer = "";
	const reader = body.getReader();
	try {
		for (;;) {
			const { done, value } = await reader.read();
			buffer += decoder.decode(value, { stream: !done });
			let end = buffer.indexOf("\n\n");
			while (end !== -1) {
				const frame = buffer.slice(0, end);
				buffer = buffer.slice(end + 2);
				let event = "message";
				const data: string[] = [];
				for (const line of frame.split("\n")) {
					if (line.startsWith("event:")) event = line.slice(6).trim();
					else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
				}
				if (event === "task" && data.length > 0) yield data.join("\n");
				end = buffer.indexOf("\n\n");
			}
			if (done) return;
		}
	} finally {
		reader.releaseLock();
	}
}
