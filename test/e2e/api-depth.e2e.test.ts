// The day-two features over plain HTTP, as curl would use them against `wrangler dev`:
// Idempotency-Key, batch submit, progress, Server-Sent Events, delays beyond 24 h.
import { afterAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { TaskEvent, TaskRecord, TaskRecordList } from "../../src/schemas";
import { ApiClient, parseJson, parseProblem } from "./client";

const api = new ApiClient(inject("baseUrl"), inject("apiToken"));
const DEADLINE_MS = 60_000;

afterAll(() => {
	expect(api.serverErrors).toEqual([]);
});

describe("day-two features over raw HTTP", () => {
	it("Idempotency-Key: a repeat returns the first task with Idempotent-Replayed, another body is 422", async () => {
		const key = `e2e-${crypto.randomUUID()}`;
		const body = { type: "echo", payload: { order: 42 } };
		const first = await api.request("POST", "/v1/tasks", { json: body, headers: { "Idempotency-Key": key } });
		expect(first.status, first.text).toBe(202);
		const again = await api.request("POST", "/v1/tasks", { json: body, headers: { "Idempotency-Key": key } });
		expect(again.status, again.text).toBe(200);
		expect(again.headers.get("Idempotent-Replayed")).toBe("true");
		expect(parseJson(again, TaskRecord).id).toBe(parseJson(first, TaskRecord).id);
		const other = await api.request("POST", "/v1/tasks", {
			json: { ...body, payload: { order: 43 } },
			headers: { "Idempotency-Key": key },
		});
		expect(other.status).toBe(422);
		expect(parseProblem(other).errors?.[0]?.path).toBe("Idempotency-Key");
	});

	it("batch submit: records in order, all run; an invalid item creates nothing", async () => {
		const ok = await api.request("POST", "/v1/tasks/batch", {
			json: {
				tasks: [
					{ type: "echo", payload: { n: 1 } },
					{ type: "sha256", payload: { text: "abc" } },
				],
			},
		});
		expect(ok.status, ok.text).toBe(202);
		const { tasks } = parseJson(ok, TaskRecordList);
		expect(tasks.map((t) => t.type)).toEqual(["echo", "sha256"]);
		const done = await Promise.all(tasks.map((t) => api.waitForTerminal(t.id, DEADLINE_MS)));
		expect(done.map((t) => t.status)).toEqual(["succeeded", "succeeded"]);

		const bad = await api.request("POST", "/v1/tasks/batch", {
			json: { tasks: [{ type: "echo" }, { type: "sleep", payload: { ms: -1 } }] },
		});
		expect(bad.status).toBe(422);
		expect(parseProblem(bad).errors?.map((e) => e.path)).toEqual(["tasks.1.payload.ms"]);
	});

	it("events: text/event-stream of states (records without payload), ending after the final one, with progress", async () => {
		const { record } = await api.submit({ type: "sleep", payload: { ms: 2000 } });
		const response = await fetch(`${api.baseUrl}/v1/tasks/${record.id}/events`, {
			headers: { Authorization: `Bearer ${inject("apiToken")}` },
			signal: AbortSignal.timeout(DEADLINE_MS),
		});
		expect(response.status).toBe(200);
		expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
		// The body ends by itself after the terminal event: reading it to the end must finish.
		const text = await response.text();
		const events = text
			.split("\n\n")
			.filter((frame) => frame.startsWith("event: task\ndata: "))
			.map((frame): unknown => JSON.parse(frame.slice("event: task\ndata: ".length)))
			.map((data) => {
				// The payload never changes, so events leave it out (TaskEvent would strip it silently).
				expect(data).not.toHaveProperty("payload");
				return TaskEvent.parse(data);
			});
		expect(events[0]?.status).toBe("queued");
		expect(events.at(-1)).toMatchObject({ status: "succeeded", progress: 100, result: { sleptMs: 2000 } });
		expect(events.some((e) => e.status === "running" && typeof e.progress === "number" && e.progress < 100)).toBe(true);
	});

	it("a delay of 30 days is accepted, kept queued with runAt, and cancellable", async () => {
		const before = Date.now();
		const { record } = await api.submit({ type: "echo", delaySeconds: 30 * 86_400 });
		expect(record.status).toBe("queued");
		expect(Date.parse(record.runAt ?? "")).toBeGreaterThanOrEqual(before + 30 * 86_400_000);
		const cancelled = await api.request("POST", `/v1/tasks/${record.id}/cancel`);
		expect(parseJson(cancelled, z.object({ status: z.literal("cancelled") })).status).toBe("cancelled");
	});
});
