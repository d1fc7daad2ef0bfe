// The one way taskflare sends a request out (HTTP tasks and completion callbacks): the URL is
// checked against HTTP_ALLOWED_HOSTS at the moment of sending, the request is signed (Standard
// Webhooks), redirects are never followed, and a timeout bounds it.
import type { InternalEnv } from "../environment";
import { allowListOf, checkUrl, type UrlCheck } from "./allow-list";
import { signatureHeader, signingSetup } from "./signing";

/** What the URL check needs at submit time, without sending anything: null when the URL may be used. */
export function outboundProblem(env: InternalEnv, url: string): string | null {
	const checked = allowed(env, url);
	if (!checked.ok) return checked.message;
	const signing = signingSetup(env);
	return signing.ok ? null : signing.message;
}

export type OutboundRequest = {
	url: string;
	method: string;
	headers: Readonly<Record<string, string>>;
	/** Sent as is, and signed as is ("" for none). */
	body: string;
	/** `webhook-id`: the same for every attempt at the same message, so a receiver can de-duplicate. */
	webhookId: string;
	timeoutMs: number;
	/** Aborts the request from outside (an attempt's own timeout or lost lease). */
	signal?: AbortSignal;
};

export type OutboundResult =
	| { kind: "response"; response: Response; durationMs: number }
	/** Not sent: the URL is not allowed (any more), or signing is not configured. */
	| { kind: "refused"; message: string }
	/** Sent, no response: `TimeoutError` or `NetworkError`. */
	| { kind: "failed"; name: "TimeoutError" | "NetworkError"; message: string; durationMs: number };

export async function sendSigned(env: InternalEnv, request: OutboundRequest): Promise<OutboundResult> {
	const checked = allowed(env, request.url);
	if (!checked.ok) return { kind: "refused", message: checked.message };
	const signing = signingSetup(env);
	if (!signing.ok) return { kind: "refused", message: signing.message };
	const timestamp = Math.floor(Date.now() / 1000);
	const headers = new Headers(request.headers);
	headers.set("user-agent", "taskflare");
	headers.set("webhook-id", request.webhookId);
	headers.set("webhook-timestamp", String(timestamp));
	headers.set("webhook-signature", await signatureHeader(signing.keys, request.webhookId, timestamp, request.body));
	const timeout = AbortSignal.timeout(request.timeoutMs);
	const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
	const started = Date.now();
	try {
		const response = await fetch(checked.url, {
			method: request.method,
			headers,
			body: request.method === "GET" || request.method === "HEAD" ? undefined : request.body,
			// A redirect could lead anywhere, so none is followed: a 3xx is an answer like any other.
			redirect: "manual",
			signal,
		});
		return { kind: "response", response, durationMs: Date.now() - started };
	} catch (error) {
		// The caller's own abort wins (it has its own reason, e.g. the attempt's TimeoutError).
		if (request.signal?.aborted) throw request.signal.reason;
		const durationMs = Date.now() - started;
		if (timeout.aborted)
			return { kind: "failed", name: "TimeoutError", message: `No response within ${request.timeoutMs / 1000}s.`, durationMs };
		const reason = error instanceof Error ? error.message : String(error);
		return { kind: "failed", name: "NetworkError", message: `The request failed: ${reason.slice(0, 200)}`, durationMs };
	}
}

function allowed(env: InternalEnv, url: string): UrlCheck {
	const list = allowListOf(env);
	if (!list.ok) {
		return {
			ok: false,
			message: `Outgoing requests are disabled: HTTP_ALLOWED_HOSTS entry "${list.entry}" is malformed (${list.message}).`,
		};
	}
	return checkUrl(url, list.list);
}

/** Seconds of a `Retry-After` header (delta-seconds or an HTTP date); null when absent or unreadable. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | null {
	if (value === null) return null;
	const text = value.trim();
	if (/^\d{1,10}$/.test(text)) return Number(text);
	const at = Date.parse(text);
	return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}
