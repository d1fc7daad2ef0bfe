// Runs one attempt of a task handler and turns whatever happens into an AttemptOutcome:
// a JSON result, or an error with the delay before the next attempt (null: do not retry).
import type { AttemptOutcome } from "../durable/task-object";
import { bytesOver, MAX_BODY_BYTES } from "../schemas";
import { backoffSeconds, NonRetryableError, type Progress, RetryLaterError, type TaskDefinition } from "../tasks/define-task";
import { ProgressReporter } from "./progress";

export type Attempt = { id: string; attempt: number; maxAttempts: number; payloadJson: string };

/** A handler's error message is kept to this many characters in the record. */
const MAX_ERROR_MESSAGE = 1000;

class TimeoutError extends Error {
	override name = "TimeoutError";
}

/** Raised (not thrown by handlers) when a result cannot be stored: never retried. */
class ResultError extends NonRetryableError {}

export async function runAttempt(
	definition: TaskDefinition,
	attempt: Attempt,
	/** The Worker's own env, handed to the handler as `ctx.env`. */
	env: Cloudflare.Env,
	progress: ProgressReporter = new ProgressReporter(async () => {}),
	/** Aborts the attempt from outside (its lease was lost): handled like a timeout. */
	stop?: AbortSignal,
): Promise<AttemptOutcome> {
	const controller = new AbortController();
	const stopNow = () => controller.abort(stop?.reason);
	if (stop?.aborted) stopNow();
	else stop?.addEventListener("abort", stopNow, { once: true });
	const timeoutMs = definition.timeoutSeconds * 1000;
	const timer = setTimeout(
		() => controller.abort(new TimeoutError(`Attempt ${attempt.attempt} ran longer than ${definition.timeoutSeconds}s.`)),
		timeoutMs,
	);
	try {
		const payload: unknown = JSON.parse(attempt.payloadJson);
		const input = definition.input.safeParse(payload);
		if (!input.success) throw new NonRetryableError(`Payload no longer matches the "${definition.type}" schema: ${input.error.message}`);
		const ctx = {
			id: attempt.id,
			attempt: attempt.attempt,
			maxAttempts: attempt.maxAttempts,
			signal: controller.signal,
			env,
			progress: (value: Progress) => progress.report(value),
		};
		// A handler that ignores the signal still loses the race; its late outcome is dropped.
		const value = await Promise.race([definition.run(input.data, ctx), rejectOnAbort(controller.signal)]);
		return withProgress({ ok: true, resultJson: toResultJson(value) }, progress);
	} catch (error) {
		const thrown: unknown = controller.signal.aborted ? controller.signal.reason : error;
		const retryable = !(thrown instanceof NonRetryableError);
		return withProgress(
			{
				ok: false,
				error: describeError(thrown),
				retryInSeconds: retryable ? retryDelay(definition, attempt.attempt, thrown) : null,
			},
			progress,
		);
	} finally {
		clearTimeout(timer);
		stop?.removeEventListener("abort", stopNow);
	}
}

/** The backoff's delay, or the one a RetryLaterError asks for (1 s to the backoff's maximum). */
function retryDelay(definition: TaskDefinition, attempt: number, thrown: unknown): number {
	if (!(thrown instanceof RetryLaterError)) return backoffSeconds(definition.backoff, attempt);
	return Math.min(definition.backoff.maxSeconds, Math.max(1, Math.ceil(thrown.retryAfterSeconds)));
}

/** The last progress value not yet written rides along with the outcome (no extra call). */
function withProgress(outcome: AttemptOutcome, progress: ProgressReporter): AttemptOutcome {
	const progressJson = progress.close();
	return progressJson === undefined ? outcome : { ...outcome, progressJson };
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
	return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
}

/** A handler's return value as JSON text (undefined → null), at most 1 MiB. */
function toResultJson(value: unknown): string {
	let json: string | undefined;
	try {
		json = JSON.stringify(value);
	} catch {
		throw new ResultError("The handler's result is not JSON-serialisable.");
	}
	if (json === undefined) return "null";
	const bytes = bytesOver(json, MAX_BODY_BYTES);
	if (bytes !== null) {
		throw new ResultError(`The result is ${bytes} bytes of JSON; results are limited to ${MAX_BODY_BYTES} bytes (1 MiB).`);
	}
	return json;
}

function describeError(error: unknown): { name: string; message: string } {
	if (error instanceof ResultError) return { name: "ResultTooLargeError", message: error.message };
	if (error instanceof Error) {
		return { name: error.name || "Error", message: error.message.slice(0, MAX_ERROR_MESSAGE) };
	}
	return { name: "Error", message: String(error).slice(0, MAX_ERROR_MESSAGE) };
}
