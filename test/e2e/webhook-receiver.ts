// A small HTTP receiver on 127.0.0.1 for the e2e tests: the `wrangler dev` under test sends HTTP
// tasks and completion callbacks to it (HTTP_ALLOWED_HOSTS=127.0.0.1, global-setup.ts). Every
// request is verified on arrival twice: with the `standardwebhooks` library and with the README's
// TypeScript snippet (examples/verify-webhook.ts), and kept with its raw body for more checks.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";
import { verifyWebhook } from "../../examples/verify-webhook";

export type Received = {
	path: string;
	method: string;
	headers: Record<string, string>;
	body: string;
	/** The standardwebhooks library accepted the signature. */
	libraryVerified: boolean;
	/** The README's snippet accepted it. */
	snippetVerified: boolean;
};
export type Answer = { status: number; body?: string; headers?: Record<string, string> };
type Route = { answer: (index: number, request: Received) => Answer; received: Received[] };

export class WebhookReceiver {
	private readonly routes = new Map<string, Route>();
	private server: Server | null = null;
	private port = 0;

	constructor(private readonly secret: string) {}

	async start(): Promise<void> {
		const server = createServer((request, response) => {
			void this.handle(request).then(({ status, body = "", headers = {} }) => {
				response.writeHead(status, { "content-type": "text/plain", ...headers });
				response.end(body);
			});
		});
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		const address: AddressInfo | string | null = server.address();
		if (address === null || typeof address === "string") throw new Error("the receiver got no port");
		this.port = address.port;
		this.server = server;
	}

	async stop(): Promise<void> {
		const server = this.server;
		if (!server) return;
		server.closeAllConnections();
		await new Promise<void>((resolve) => server.close(() => resolve()));
	}

	/** A new path on the receiver: `answer` decides each request's response (0-based index). */
	route(answer: (index: number, request: Received) => Answer = () => ({ status: 200, body: "ok" })): { url: string; received: Received[] } {
		const path = `/r/${crypto.randomUUID()}`;
		const received: Received[] = [];
		this.routes.set(path, { answer, received });
		return { url: `http://127.0.0.1:${this.port}${path}`, received };
	}

	private async handle(request: IncomingMessage): Promise<Answer> {
		const chunks: Buffer[] = [];
		for await (const chunk of request) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
		const body = Buffer.concat(chunks).toString("utf8");
		const headers: Record<string, string> = {};
		for (const [name, value] of Object.entries(request.headers)) if (typeof value === "string") headers[name] = value;
		const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
		const received: Received = {
			path,
			method: request.method ?? "",
			headers,
			body,
			libraryVerified: this.libraryVerifies(headers, body),
			snippetVerified: await verifyWebhook(this.secret, new Headers(headers), body),
		};
		const route = this.routes.get(path);
		if (!route) return { status: 404, body: "no such route" };
		route.received.push(received);
		return route.answer(route.received.length - 1, received);
	}

	/** The library's verify also parses the body as JSON: a text body is checked with its sign(). */
	private libraryVerifies(headers: Record<string, string>, body: string): boolean {
		const webhook = new Webhook(this.secret);
		const signatures = (headers["webhook-signature"] ?? "").split(" ");
		try {
			if (headers["content-type"]?.includes("json")) {
				webhook.verify(body, headers);
				return true;
			}
			const timestamp = Number(headers["webhook-timestamp"]);
			return signatures.includes(webhook.sign(headers["webhook-id"] ?? "", new Date(timestamp * 1000), body));
		} catch {
			return false;
		}
	}
}
