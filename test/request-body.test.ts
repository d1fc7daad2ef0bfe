// Request bodies at the edge: the size limit is enforced while the body streams in, and bodies the
// API cannot read as UTF-8 JSON are refused (415) instead of being misread.
import { describe, expect, it } from "vitest";
import { MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES } from "../src/schemas";
import { api, expectProblem } from "./helpers";

const MiB = 1024 * 1024;

/**
 * A body of `total` bytes produced on demand (64 KiB per pull), counting how much the server pulled.
 * A chunked body: the Request has no Content-Length, so only reading tells its size.
 */
function countingBody(total: number) {
	const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
	const counter = { pulled: 0 };
	const stream = new ReadableStream<Uint8Array>(
		{
			pull(controller) {
				if (counter.pulled >= total) return controller.close();
				counter.pulled += chunk.byteLength;
				controller.enqueue(chunk.slice());
			},
		},
		{ highWaterMark: 0 },
	);
	return { stream, counter };
}

describe("request body limit", () => {
	it("stops reading a chunked body at the first byte over 1 MiB", async () => {
		const { stream, counter } = countingBody(64 * MiB);
		const response = await api("/v1/tasks", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: stream,
			// @ts-expect-error: RequestInit.duplex is missing from the Workers types; required for a stream body in Node
			duplex: "half",
		});
		const problem = await expectProblem(response, 413);
		expect(problem.detail).toContain("1 MiB");
		// Up to the limit again is read and dropped (so a body only somewhat too large is consumed and
		// its sender reads the 413), plus a little read-ahead; never the 64 MiB.
		expect(counter.pulled).toBeLessThan(2 * MAX_BODY_BYTES + 2 * MiB);
	});

	it("states the batch route's own limit (10 MiB) in its 413", async () => {
		const { stream, counter } = countingBody(64 * MiB);
		const response = await api("/v1/tasks/batch", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: stream,
			// @ts-expect-error: see above
			duplex: "half",
		});
		const problem = await expectProblem(response, 413);
		expect(problem.detail).toContain("10 MiB");
		expect(problem.detail).not.toContain("(1 MiB)");
		expect(counter.pulled).toBeLessThan(2 * MAX_BATCH_BODY_BYTES + 2 * MiB);
	});

	it("answers 413 at once from a Content-Length over the limit", async () => {
		const response = await api("/v1/tasks", {
			method: "POST",
			headers: { "Content-Type": "application/json", "Content-Length": String(MAX_BODY_BYTES + 1) },
			body: " ".repeat(MAX_BODY_BYTES + 1),
		});
		await expectProblem(response, 413);
	});

	it("accepts a body of exactly 1 MiB, parsed as sent", async () => {
		const head = '{"type":"echo","payload":{"big":"';
		const tail = '"}}';
		const big = "x".repeat(MAX_BODY_BYTES - head.length - tail.length);
		const response = await api("/v1/tasks", {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: `${head}${big}${tail}`,
		});
		expect(response.status).toBe(202);
		expect(await response.json()).toMatchObject({ payload: { big } });
	});
});

describe("bodies the API cannot read as UTF-8 JSON", () => {
	const body = JSON.stringify({ type: "echo", payload: { text: "café" } });

	it.each(["application/json; charset=iso-8859-1", "application/json;charset=utf-16", 'application/json; charset="latin1"'])(
		"answers 415 for Content-Type %s",
		async (contentType) => {
			const problem = await expectProblem(await api("/v1/tasks", { method: "POST", headers: { "Content-Type": contentType }, body }), 415);
			expect(problem.detail).toMatch(/charset/);
		},
	);

	it.each(["application/json; charset=utf-8", "application/json; charset=UTF-8", 'application/json; charset="utf-8"'])(
		"accepts Content-Type %s",
		async (contentType) => {
			const response = await api("/v1/tasks", { method: "POST", headers: { "Content-Type": contentType }, body });
			expect(response.status).toBe(202);
			expect(await response.json()).toMatchObject({ payload: { text: "café" } });
		},
	);

	it.each(["gzip", "br", "deflate"])("answers 415 for Content-Encoding %s", async (encoding) => {
		const response = await api("/v1/tasks", {
			method: "POST",
			headers: { "Content-Type": "application/json", "Content-Encoding": encoding },
			body,
		});
		const problem = await expectProblem(response, 415);
		expect(problem.detail).toMatch(/Content-Encoding/);
	});

	it("answers 415 on the seed route too", async () => {
		const response = await api("/process_task", {
			method: "POST",
			headers: { "Content-Type": "application/json; charset=windows-1252" },
			body: "{}",
		});
		await expectProblem(response, 415);
	});

	it("answers 400 for bytes that are not UTF-8", async () => {
		const bytes = new Uint8Array([
			...new TextEncoder().encode('{"type":"echo","payload":{"t":"'),
			0xe9,
			...new TextEncoder().encode('"}}'),
		]);
		const response = await api("/v1/tasks", { method: "POST", headers: { "Content-Type": "application/json" }, body: bytes });
		await expectProblem(response, 400);
	});
});
