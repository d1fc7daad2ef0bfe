// Receivers for the Worker's outgoing requests (HTTP tasks, completion callbacks) in the workerd
// tests. The tests, the queue consumer and the Durable Objects run in one isolate, so one spy on
// globalThis.fetch sees every outgoing request; it hands each to the receiver registered for its
// URL (each test makes its own, so requests of an earlier test's tasks never reach a later test).
// Requests to no receiver get 599 (vitest.config.ts's outboundService answers anything else).
import { Webhook } from "standardwebhooks";
import { vi } from "vitest";

/** The test-vector secret vitest.config.ts gives the Worker as WEBHOOK_SECRET. */
const TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

export type Received = { url: string; method: string; headers: Headers; body: string; at: number; signal: AbortSignal | undefined };
type Answer = (request: Received, index: number) => Response | Promise<Response>;

const receivers = new Map<string, { answer: Answer; received: Received[] }>();
let installed = false;

function install(): void {
	if (installed) return;
	installed = true;
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
		const request = new Request(input, init);
		const url = new URL(request.url);
		const receiver = receivers.get(`${url.origin}${url.pathname}`);
		if (!receiver) return new Response("no receiver", { status: 599 });
		const received: Received = {
			url: request.url,
			method: request.method,
			headers: request.headers,
			body: await request.text(),
			at: Date.now(),
			signal: init?.signal ?? undefined,
		};
		receiver.received.push(received);
		return receiver.answer(received, receiver.received.length - 1);
	});
}

/** A new receiver at `https://<host>/receiver/<uuid>`: `answer` is called with each request (0-based index). */
export function receiver(answer: Answer = () => new Response("ok"), host = "api.example.com") {
	install();
	const url = `https://${host}/receiver/${crypto.randomUUID()}`;
	const received: Received[] = [];
	receivers.set(url, { answer, received });
	return { url, received };
}

/**
 * Throws unless the request carries a valid Standard Webhooks signature by `secret`, computed by the
 * `standardwebhooks` library (its `verify` also parses the body as JSON; text bodies are signed too).
 */
export function verifySignature(request: Received, secret = TEST_SECRET): void {
	const id = request.headers.get("webhook-id") ?? "";
	const timestamp = Number(request.headers.get("webhook-timestamp"));
	if (Math.abs(Date.now() / 1000 - timestamp) > 5 * 60) throw new Error(`webhook-timestamp ${timestamp} is not now`);
	const expected = new Webhook(secret).sign(id, new Date(timestamp * 1000), request.body);
	const signatures = (request.headers.get("webhook-signature") ?? "").split(" ");
	if (!signatures.includes(expected)) throw new Error(`no signature by this secret among ${signatures.join(" ")}`);
}

/** A response that never comes: the request waits until its signal aborts, then fails as fetch would. */
export function never(request: Received): Promise<Response> {
	return new Promise((_, reject) => {
		request.signal?.addEventListener("abort", () => reject(request.signal?.reason), { once: true });
	});
}
