// ctx.progress(): coalesced writes, fenced by attempt, visible in the record.
import { describe, expect, it, vi } from "vitest";
import { ProgressReporter } from "../src/queue/progress";
import { createTask, getTask, readRecord, submit, waitForTerminal } from "./helpers";

describe("ProgressReporter", () => {
	it("coalesces rapid reports into few writes, keeping the latest value", async () => {
		const sent: string[] = [];
		const reporter = new ProgressReporter(async (json) => {
			sent.push(json);
		}, 60_000);
		for (let i = 0; i <= 100; i++) reporter.report(i);
		await vi.waitUntil(() => sent.length === 1);
		expect(sent).toEqual(["100"]);
		reporter.report({ stage: "upload" });
		reporter.report({ stage: "done" });
		// The interval has not passed: nothing more is written; close() hands back the latest.
		expect(reporter.close()).toBe('{"stage":"done"}');
		expect(sent).toEqual(["100"]);
	});

	it("refuses values that are not 0..100 or a small object", () => {
		const reporter = new ProgressReporter(async () => {});
		expect(() => reporter.report(101)).toThrow(TypeError);
		expect(() => reporter.report("half")).toThrow(TypeError);
		expect(() => reporter.report({ blob: "x".repeat(5000) })).toThrow(TypeError);
	});
});

describe("progress in the record", () => {
	it("shows a running task's progress and keeps the last value at the end", async () => {
		const { id } = await submit({ type: "sleep", payload: { ms: 2500 } });
		const running = await vi.waitUntil(
			async () => {
				const record = await getTask(id);
				return record.status === "running" && typeof record.progress === "number" && record.progress < 100 ? record : false;
			},
			{ timeout: 10_000, interval: 50 },
		);
		expect(running.progress).toBeGreaterThan(0);
		expect(await waitForTerminal(id)).toMatchObject({ status: "succeeded", progress: 100 });
	});

	it("refuses progress from an attempt that is not the running one", async () => {
		const { stub } = await createTask("echo");
		expect(await stub.progress(1, "50")).toBe(false);
		await stub.start();
		expect(await stub.progress(2, "50")).toBe(false);
		expect(await stub.progress(1, "50")).toBe(true);
		expect(await readRecord(stub)).toMatchObject({ status: "running", progress: 50 });
	});
});
