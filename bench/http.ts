// HTTP (node:http with keep-alive: far cheaper per request than fetch, on a 2-core machine the
// client competes with wrangler for CPU), and parsing answers with zod.
import { type Agent, request as httpRequest } from "node:http";
import type { z } from "zod";

type HttpResponse = { status: number; text: string };

export function send(
	agent: Agent,
	baseUrl: string,
	method: "GET" | "POST",
	pathAndQuery: string,
	{ body, headers = {}, timeoutMs }: { body?: string; headers?: Readonly<Record<string, string>>; timeoutMs: number },
): Promise<HttpResponse> {
	return new Promise((resolve, reject) => {
		const url = new URL(pathAndQuery, baseUrl);
		const outgoing: Record<string, string> = { ...headers };
		if (body !== undefined) {
			outgoing["content-type"] = "application/json";
			outgoing["content-length"] = String(Buffer.byteLength(body));
		}
		const req = httpRequest(url, { method, agent, headers: outgoing }, (res) => {
			const chunks: Buffer[] = [];
			res.on("data", (chunk: Buffer) => chunks.push(chunk));
			res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
			res.on("error", reject);
		});
		req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url.pathname} timed out after ${timeoutMs} ms`)));
		req.on("error", reject);
		req.end(body);
	});
}

export function parseJson<T>(schema: z.ZodType<T>, text: string): T {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		throw new Error(`not JSON: ${text.slice(0, 200)}`);
	}
	return schema.parse(value);
}
