// GET /v1/tasks/{id}/events: Server-Sent Events framing, order, and termination.
import { describe, expect, it } from "vitest";
import { TaskRecord } from "../src/schemas";
import { api, expectProblem, submit, waitForTerminal } from "./helpers";

/** Reads the whole stream (it must end by itself) and splits it into SSE frames. */
async function readEvents(response: Response) {
	const text = await response.text();
	expect(text.endsWith("\n\n")).toBe(true);
	const frames = text.split("\n\n").filter((frame) => frame !== "" && !frame.startsWith(":"));
	return frames.map((frame) => {
		const lines = frame.split("\n");
		expect(lines[0]).toBe("event: task");
		expect(lines[1]?.startsWith("data: ")).toBe(true);
		expect(lines).toHaveLength(2);
		return TaskRecord.parse(JSON.parse(lines[1]?.slice("data: ".length) ?? ""));
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
});
