// Shared helpers for the workerd tests: authenticated requests through the Worker, and zod
// parsing of responses (never casts).
import type { MessageBatchMessage, QueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { TaskObject } from "../src/durable/task-object";
import { newTaskStub } from "../src/durable/task-stub";
import { Problem, TaskRecord } from "../src/schemas";
import { exampleTasks } from "../src/tasks/examples";
import { taskRegistry } from "../src/tasks/registry";

export const TOKEN = "test-token";
const BASE = "https://taskflare.test";
/** The task types of the Worker under test (src/index.ts), for tests that call internal functions. */
export const taskTypes = taskRegistry(exampleTasks);

export function api(path: string, init: RequestInit & { token?: string | null; json?: unknown } = {}) {
	const { token = TOKEN, json, ...rest } = init;
	const headers = new Headers(rest.headers);
	if (token !== null) headers.set("Authorization", `Bearer ${token}`);
	if (json !== undefined) {
		headers.set("Content-Type", "application/json");
		rest.body = JSON.stringify(json);
		rest.method ??= "POST";
	}
	return exports.default.fetch(new Request(`${BASE}${path}`, { ...rest, headers }));
}

export async function submit(body: unknown): Promise<TaskRecord> {
	const response = await api("/v1/tasks", { json: body });
	expect(response.status, await response.clone().text()).toBe(202);
	return TaskRecord.parse(await response.json());
}

export async function getTask(id: string, query = ""): Promise<TaskRecord> {
	const response = await api(`/v1/tasks/${id}${query}`);
	expect(response.status).toBe(200);
	return TaskRecord.parse(await response.json());
}

export async function expectProblem(response: Response, status: number): Promise<Problem> {
	expect(response.status).toBe(status);
	expect(response.headers.get("content-type")).toBe("application/problem+json");
	const problem = Problem.parse(await response.json());
	expect(problem.status).toBe(status);
	return problem;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** Polls the task until it is terminal (the queue runs in the background), with a deadline. */
export function waitForTerminal(id: string, timeout = 15_000): Promise<TaskRecord> {
	return vi.waitUntil(
		async () => {
			const record = await getTask(id);
			return TERMINAL.has(record.status) ? record : false;
		},
		{ timeout, interval: 50 },
	);
}

/** A task recorded directly in a fresh Durable Object (nothing is sent to the queue). */
export async function createTask(
	type: string,
	payload: unknown = {},
	options: { maxAttempts?: number; timeoutSeconds?: number; delaySeconds?: number } = {},
) {
	const { id, stub } = newTaskStub(env);
	await stub.create({
		type,
		payloadJson: JSON.stringify(payload),
		maxAttempts: options.maxAttempts ?? 3,
		timeoutSeconds: options.timeoutSeconds ?? 30,
		delaySeconds: options.delaySeconds ?? 0,
	});
	return { id, stub };
}

/** The record as the object serves it, parsed. */
export async function readRecord(stub: DurableObjectStub<TaskObject>): Promise<TaskRecord | null> {
	const json = await stub.get();
	return json === null ? null : TaskRecord.parse(JSON.parse(json));
}

let messageCounter = 0;
export function queueMessage(body: unknown, attempts = 1): MessageBatchMessage {
	return { id: `msg-${++messageCounter}-${crypto.randomUUID()}`, timestamp: new Date(), attempts, body };
}

/** Runs `fn` with Date.now() moved `ms` into the future (timers stay real). */
export async function inTheFuture<T>(ms: number, fn: () => Promise<T>): Promise<T> {
	vi.useFakeTimers({ toFake: ["Date"] });
	vi.setSystemTime(Date.now() + ms);
	try {
		return await fn();
	} finally {
		vi.useRealTimers();
	}
}

type QueueTrigger = { queue(queueName: string, messages: MessageBatchMessage[]): Promise<QueueResult> };
const isQueueTrigger = (value: unknown): value is QueueTrigger =>
	value !== null && (typeof value === "object" || typeof value === "function") && typeof Reflect.get(value, "queue") === "function";

/**
 * Delivers messages through the Worker's own `queue` export (`exports.default.queue()`). That method
 * exists only under the test-only `service_binding_extra_handlers` flag, which the generated
 * (production) types do not describe, hence the guard.
 */
export function deliver(queueName: string, messages: MessageBatchMessage[]): Promise<QueueResult> {
	const target: unknown = exports.default;
	if (!isQueueTrigger(target)) throw new Error("exports.default.queue() needs the service_binding_extra_handlers flag");
	return target.queue(queueName, messages);
}
