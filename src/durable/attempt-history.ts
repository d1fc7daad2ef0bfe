// A task's attempt history: the newest MAX_ATTEMPT_HISTORY attempts, kept inside the task's meta
// row. Every change to it happens in a call that writes the meta row anyway (start, finish, lease
// expiry, dead letter), so the history costs no extra row writes, only bytes (≤ ~9 KB at 20
// attempts with long errors, as messages are cut to HISTORY_ERROR_CHARS).
import { z } from "zod";
import { AttemptOutcomeName, MAX_ATTEMPT_HISTORY, type TaskAttempt, TaskError } from "../schemas";

/** An error message in the history is cut to this many characters (the record's `error` keeps 1000). */
const HISTORY_ERROR_CHARS = 300;

/** One attempt as stored (times in epoch ms, short keys: it is written with every meta row). */
export type StoredAttempt = z.infer<typeof StoredAttempt>;
export const StoredAttempt = z.object({
	n: z.int(),
	start: z.number(),
	end: z.number().optional(),
	outcome: AttemptOutcomeName,
	error: TaskError.optional(),
	retryAt: z.number().optional(),
});

/** The history with attempt `n` added as running, trimmed to the newest MAX_ATTEMPT_HISTORY. */
export function beginAttempt(history: readonly StoredAttempt[] | undefined, n: number, now: number): StoredAttempt[] {
	return [...(history ?? []), { n, start: now, outcome: "running" as const }].slice(-MAX_ATTEMPT_HISTORY);
}

export type AttemptEnd = {
	outcome: Exclude<AttemptOutcomeName, "running">;
	at: number;
	error?: TaskError;
	/** Set when another attempt follows: when it is due. */
	retryAt?: number;
};

/** The history with running attempt `n` ended. Unchanged if `n` is not in it (or already ended). */
export function endAttempt(history: readonly StoredAttempt[] | undefined, n: number, end: AttemptEnd): StoredAttempt[] | undefined {
	if (!history) return undefined;
	return history.map((entry) =>
		entry.n !== n || entry.outcome !== "running"
			? entry
			: {
					...entry,
					end: end.at,
					outcome: end.outcome,
					error: end.error && { name: end.error.name, message: end.error.message.slice(0, HISTORY_ERROR_CHARS) },
					retryAt: end.retryAt,
				},
	);
}

/** How a handler's reported error ends its attempt. */
export function failedOutcome(error: TaskError): "failed" | "timed-out" {
	return error.name === "TimeoutError" ? "timed-out" : "failed";
}

/** The wire form (ISO times, durations). */
export function attemptHistoryWire(history: readonly StoredAttempt[] | undefined): TaskAttempt[] {
	const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
	return (history ?? []).map((entry) => ({
		attempt: entry.n,
		startedAt: new Date(entry.start).toISOString(),
		finishedAt: iso(entry.end),
		durationMs: entry.end === undefined ? undefined : Math.max(0, Math.round(entry.end - entry.start)),
		outcome: entry.outcome,
		error: entry.error,
		retryAt: iso(entry.retryAt),
	}));
}
