// Completion callbacks: when a task reaches a final state its own Durable Object POSTs the final
// record to the task's `callback.url`, signed (Standard Webhooks). The delivery is durable: its
// state lives in the task's meta row and the task's alarm makes each attempt, until a 2xx or
// CALLBACK_MAX_ATTEMPTS. Every attempt is kept on the record; a delivery never changes the
// task's own outcome. The task object calls the functions here (durable/task-object.ts).
import { z } from "zod";
import type { InternalEnv } from "../environment";
import { type CallbackRecord, isTerminal, type TaskStatus } from "../schemas";
import { sendSigned } from "./send";

/** Delivery attempts per final state. */
export const CALLBACK_MAX_ATTEMPTS = 10;
/** Seconds before attempt n + 1 (index n - 1): from 5 s to 8 h, about 15.8 h in all. */
const RETRY_DELAYS_SECONDS = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800];
/** One attempt waits this long for the receiver's answer. */
const CALLBACK_TIMEOUT_MS = 10_000;
/** Delivery attempts kept on the record (the newest). */
const MAX_DELIVERIES_KEPT = 20;
/** An attempt's error message is cut to this. */
const MAX_ERROR_CHARS = 300;
/** An alarm this early still makes the attempt (alarms may fire a little early). */
const EARLY_TOLERANCE_MS = 1000;

const StoredDelivery = z.object({
	id: z.string(),
	attempt: z.int(),
	at: z.number(),
	durationMs: z.int(),
	statusCode: z.int().optional(),
	error: z.string().optional(),
});
type StoredDelivery = z.infer<typeof StoredDelivery>;

/** Kept in the task's meta row. */
export type StoredCallback = z.infer<typeof StoredCallback>;
export const StoredCallback = z.object({
	url: z.string(),
	state: z.enum(["waiting", "pending", "delivered", "failed", "superseded"]),
	/** Final states reached so far: the current delivery's number (part of its webhook id). */
	finals: z.int(),
	/** Attempts made at the current delivery. */
	attempts: z.int(),
	/** While pending: when the next attempt is due. */
	nextAt: z.number().optional(),
	deliveries: z.array(StoredDelivery),
});

export function newCallback(url: string): StoredCallback {
	return { url, state: "waiting", finals: 0, attempts: 0, deliveries: [] };
}

/**
 * The callback after the task's status changed to `to`: a final state starts a delivery at once;
 * a retry (back to queued) ends a delivery still under way, as that outcome is no longer the
 * task's (the next final state gets a delivery of its own).
 */
export function callbackOnStatus(callback: StoredCallback, to: TaskStatus, now: number): StoredCallback {
	if (isTerminal(to)) return { ...callback, state: "pending", finals: callback.finals + 1, attempts: 0, nextAt: now };
	if (callback.state === "pending") return { ...callback, state: "superseded", nextAt: undefined };
	// A retry of a final task: the next final state is the one to deliver.
	if (callback.state === "delivered" || callback.state === "failed") return { ...callback, state: "waiting" };
	return callback;
}

/** When the next delivery attempt is due; undefined when none is (nothing pending). */
export function callbackDueAt(callback: StoredCallback | undefined): number | undefined {
	return callback?.state === "pending" ? (callback.nextAt ?? 0) : undefined;
}

export function callbackIsDue(callback: StoredCallback | undefined, now: number): boolean {
	const due = callbackDueAt(callback);
	return due !== undefined && now >= due - EARLY_TOLERANCE_MS;
}

/** The `webhook-id` of a delivery: one per final state of the task, the same for its every attempt. */
export function webhookId(taskId: string, callback: StoredCallback): string {
	return `callback_${taskId}_${callback.finals}`;
}

export type DeliveryAttempt = { at: number; durationMs: number; statusCode?: number; error?: string };

/** Sends one attempt: the record's JSON, signed. Never throws: every outcome is an attempt to record. */
export async function attemptDelivery(env: InternalEnv, url: string, id: string, bodyJson: string): Promise<DeliveryAttempt> {
	const at = Date.now();
	try {
		const sent = await sendSigned(env, {
			url,
			method: "POST",
			headers: { "content-type": "application/json" },
			body: bodyJson,
			webhookId: id,
			timeoutMs: CALLBACK_TIMEOUT_MS,
		});
		if (sent.kind === "refused") return { at, durationMs: 0, error: cut(sent.message) };
		if (sent.kind === "failed") return { at, durationMs: sent.durationMs, error: cut(`${sent.name}: ${sent.message}`) };
		// Only the status matters; the body is not read.
		await sent.response.body?.cancel();
		const { status } = sent.response;
		const ok = status >= 200 && status < 300;
		return { at, durationMs: sent.durationMs, statusCode: status, ...(ok ? {} : { error: `The receiver answered ${status}.` }) };
	} catch (error) {
		return { at, durationMs: Date.now() - at, error: cut(error instanceof Error ? `${error.name}: ${error.message}` : "Unknown error") };
	}
}

/** The callback after an attempt: delivered on a 2xx, given up after the last attempt, else due again after a backoff. */
export function recordAttempt(callback: StoredCallback, id: string, attempt: DeliveryAttempt): StoredCallback {
	const attempts = callback.attempts + 1;
	const delivery: StoredDelivery = { id, attempt: attempts, ...attempt };
	const deliveries = [...callback.deliveries, delivery].slice(-MAX_DELIVERIES_KEPT);
	const ok = attempt.statusCode !== undefined && attempt.statusCode >= 200 && attempt.statusCode < 300;
	if (ok || attempts >= CALLBACK_MAX_ATTEMPTS)
		return { ...callback, state: ok ? "delivered" : "failed", attempts, nextAt: undefined, deliveries };
	const delaySeconds = RETRY_DELAYS_SECONDS[Math.min(attempts, RETRY_DELAYS_SECONDS.length) - 1] ?? 5;
	return { ...callback, attempts, nextAt: attempt.at + attempt.durationMs + delaySeconds * 1000, deliveries };
}

/** The record's `callback`. */
export function callbackWire(callback: StoredCallback): CallbackRecord {
	const iso = (ms: number) => new Date(ms).toISOString();
	return {
		url: callback.url,
		state: callback.state,
		...(callback.nextAt === undefined ? {} : { nextAttemptAt: iso(callback.nextAt) }),
		deliveries: callback.deliveries.map((d) => ({
			webhookId: d.id,
			attempt: d.attempt,
			at: iso(d.at),
			durationMs: d.durationMs,
			...(d.statusCode === undefined ? {} : { statusCode: d.statusCode }),
			...(d.error === undefined ? {} : { error: d.error }),
		})),
	};
}

function cut(message: string): string {
	return message.slice(0, MAX_ERROR_CHARS);
}
