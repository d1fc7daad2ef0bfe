// GET /v1/tasks/{id}/events: Server-Sent Events framing, order, termination, the latest state
// for a slow reader, and the cap on streams per task.
import { describe, expect, it, vi } from "vitest";
import { MAX_EVENT_STREAMS_PER_TASK, TaskEvent } from "../src/schemas";
import { api, createTask, expectProblem, submit, waitForTerminal } from "./helpers";

/** Reads the whole stream (it must end by itself) and splits it into SSE frames. */
async function readEvents(response: Response) {
	return parseEvents(await response.text());
}

function parseEvents(text: string) {
	expect(text.endsWith("\n\n")).toBe(true);
	const frames = text.split("\n\n").filter((frame) => frame !== "" && !frame.startsWith(":"));
	return frames.map((frame) => {
		const lines = frame.split("\n");
		expect(lines[0]).toBe("event: task");
		expect(lines[1]?.startsWith("data: ")).toBe(true);
		expect(lines).toHaveLength(2);
		const data: unknown = JSON.parse(lines[1]?.slice("data: ".length) ?? "");
		// The payload never changes: events leave it out (TaskEvent would strip it silently).
		expect(data).not.toHaveProperty("payload");
		return TaskEvent.parse(data);
	});
}

describe("GET /v1/tasks/{id}/events", () => {
	it("streams the current record, every change, and ends after the terminal event", async () => {
		const { id } = await submit({ type: "flaky", payload: { failTimes: 1 } });
		const response = await api(`/v1/tasks/${id}/events`);
		expect(response.status).toBe(200);
		expect(response.headers.get("Content-Type")).toBe("text/event-stream; charset=utf-8");
		const events = await readEvents(response);
		const statuses = events.map((e) => e.status);
		expect(statuses[0]).toBe("queued");
		expect(statuses.at(-1)).toBe("succeeded");
		// The first attempt fails and is retried: every step is seen, in order.
		expect(statuses).toEqual(["queued", "running", "retrying", "running", "succeeded"]);
		expect(events.at(-1)).toMatchObject({ attempts: 2, result: { attempts: 2 } });
	});

	it("includes progress changes", async () => {
		const { id } = await submit({ type: "sleep", payload: { ms: 2500 } });
		const events = await readEvents(await api(`/v1/tasks/${id}/events`));
		const progress = events.map((e) => e.progress).filter((p) => p !== undefined);
		expect(progress.length).toBeGreaterThanOrEqual(2);
		expect(progress.at(-1)).toBe(100);
	});

	it("sends one event and ends for a task that already finished", async () => {
		const { id } = await submit({ type: "echo", payload: { done: true } });
		await waitForTerminal(id);
		const events = await readEvents(await api(`/v1/tasks/${id}/events`));
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({ status: "succeeded", result: { done: true } });
	});

	it("answers 404 for an unknown task and 401 without a token", async () => {
		await expectProblem(await api(`/v1/tasks/${"d".repeat(64)}/events`), 404);
		await expectProblem(await api(`/v1/tasks/x/events`, { token: null }), 401);
	});

	it("gives a reader that fell behind the latest state, not every change", async () => {
		const { id, stub } = await createTask("echo", { big: "x".repeat(100_000) });
		await stub.start();
		const response = await api(`/v1/tasks/${id}/events`);
		const body = response.body;
		if (!body) throw new Error("no body");
		const reader = body.getReader();
		const decoder = new TextDecoder();
		const readChunk = async () => {
			const chunk: ReadableStreamReadResult<unknown> = await reader.read();
			if (chunk.done) return null;
			if (!(chunk.value instanceof Uint8Array)) throw new Error("not bytes");
			return decoder.decode(chunk.value, { stream: true });
		};
		let text = (await readChunk()) ?? "";
		// 300 changes while the reader reads nothing.
		for (let n = 1; n <= 300; n++) await stub.progress(1, JSON.stringify({ step: n }));
		await stub.finish(1, { ok: true, resultJson: '{"done":true}' });
		for (let chunk = await readChunk(); chunk !== null; chunk = await readChunk()) text += chunk;
		// A little buffering between the object and the reader is fine; a backlog of 300 is not.
		expect(text.split("event: task\n").length - 1).toBeLessThan(30);
		const events = parseEvents(text);
		expect(events[0]?.status).toBe("running");
		expect(events.at(-1)).toMatchObject({ status: "succeeded", progress: { step: 300 }, result: { done: true } });
	});

	it(`allows ${MAX_EVENT_STREAMS_PER_TASK} streams per task, then answers 429 with Retry-After`, async () => {
		const { id } = await createTask("echo", {}, { delaySeconds: 3600 });
		const open = await Promise.all(Array.from({ length: MAX_EVENT_STREAMS_PER_TASK }, () => api(`/v1/tasks/${id}/events`)));
		expect(open.map((r) => r.status)).toEqual(open.map(() => 200));
		const refused = await api(`/v1/tasks/${id}/events`);
		const problem = await expectProblem(refused, 429);
		expect(problem.type).toBe("urn:taskflare:problem:too-many-requests");
		expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(0);
		// Another task is not affected.
		const other = await createTask("echo", {}, { delaySeconds: 3600 });
		const otherStream = await api(`/v1/tasks/${other.id}/events`);
		expect(otherStream.status).toBe(200);
		await otherStream.body?.cancel();
		// A reader that goes away frees its place.
		await open[0]?.body?.cancel();
		const again = await vi.waitUntil(
			async () => {
				const response = await api(`/v1/tasks/${id}/events`);
				if (response.status === 200) return response;
				await response.body?.cancel();
				return false;
			},
			{ timeout: 10_000, interval: 50 },
		);
		expect(again.status).toBe(200);
		for (const stream of [again, ...open.slice(1)]) await stream.body?.cancel();
	});
});
