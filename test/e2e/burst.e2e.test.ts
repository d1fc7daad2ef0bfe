// A burst of tasks through the real queue: every one must end, succeeded, with its own result.
import { afterAll, expect, inject, it } from "vitest";
import { ApiClient, mapPool, TaskDeadlineError } from "./client";

const api = new ApiClient(inject("baseUrl"), inject("apiToken"));

const TASKS = 300;
/** Requests in flight at a time, for submitting and for waiting. */
const CONCURRENCY = 32;
/** For the whole burst: submitting, running and observing all of it. */
const DEADLINE_MS = 120_000;

afterAll(() => {
	expect(api.serverErrors).toEqual([]);
});

it(`${TASKS} echo tasks submitted ${CONCURRENCY} at a time all succeed`, { timeout: DEADLINE_MS + 30_000 }, async () => {
	const started = performance.now();
	const deadline = Date.now() + DEADLINE_MS;
	const run = `${Date.now()}`;

	const ids = await mapPool(
		Array.from({ length: TASKS }, (_, i) => i),
		CONCURRENCY,
		async (index) => {
			const { record } = await api.submit({ type: "echo", payload: { run, index } });
			return record.id;
		},
	);
	const submittedMs = performance.now() - started;
	expect(new Set(ids).size).toBe(TASKS);

	// Long-poll each task until it is terminal; a task still open at the deadline counts as lost.
	const outcomes = await mapPool(ids, CONCURRENCY, async (id, index) => {
		try {
			const record = await api.waitForTerminal(id, Math.max(0, deadline - Date.now()));
			// Each result must be its own payload, not another task's.
			const ownResult = JSON.stringify(record.result) === JSON.stringify({ run, index });
			return record.status === "succeeded" && !ownResult ? "wrong-result" : record.status;
		} catch (error) {
			if (error instanceof TaskDeadlineError) return "lost";
			throw error;
		}
	});
	const count = (outcome: string) => outcomes.filter((o) => o === outcome).length;
	const counts = {
		submitted: ids.length,
		succeeded: count("succeeded"),
		failed: count("failed"),
		cancelled: count("cancelled"),
		wrongResult: count("wrong-result"),
		lost: count("lost"),
	};
	console.log(
		`burst: ${JSON.stringify(counts)}; submitted in ${(submittedMs / 1000).toFixed(1)} s, ` +
			`all observed in ${((performance.now() - started) / 1000).toFixed(1)} s`,
	);
	expect(counts).toEqual({ submitted: TASKS, succeeded: TASKS, failed: 0, cancelled: 0, wrongResult: 0, lost: 0 });
});
