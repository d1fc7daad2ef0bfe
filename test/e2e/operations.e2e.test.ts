// Attempt history, retry, delete and bulk operations against a real `wrangler dev` (see
// global-setup.ts), over plain HTTP and through the typed client: tasks that fail, are retried
// one by one or in bulk and then succeed; bulk cancel and bulk delete.
//
// Failing-until-retried tasks are `flaky` tasks with `maxAttempts` ≤ `failTimes`: every attempt
// of the first run fails, so the task ends failed; a retry gives `maxAttempts` more attempts and
// attempt numbers keep counting, so attempt `failTimes + 1` (in the new run) succeeds.
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createClient } from "../../src/client";
import { OperationRecord, TaskPage, TaskRecord, TaskRecordList, type TaskStatus } from "../../src/schemas";
import { ApiClient, expectStatus, mapPool, parseJson, parseProblem } from "./client";

const baseUrl = inject("baseUrl");
const api = new ApiClient(baseUrl, inject("apiToken"));
const client = createClient({ baseUrl, token: inject("apiToken") });

/** Longest a task or operation of these tests may take to end. */
const DEADLINE_MS = 90_000;

afterAll(() => {
	expect(api.serverErrors).toEqual([]);
});

async function operationUntilEnded(id: string): Promise<OperationRecord> {
	const deadline = Date.now() + DEADLINE_MS;
	for (;;) {
		const response = await api.request("GET", `/v1/operations/${id}`);
		expectStatus(response, 200);
		const record = parseJson(response, OperationRecord);
		if (record.state !== "running") return record;
		if (Date.now() > deadline) throw new Error(`operation ${id} still running: ${response.text}`);
		await delay(250);
	}
}

async function startBulk(body: unknown): Promise<OperationRecord> {
	const response = await api.request("POST", "/v1/tasks/bulk", { json: body });
	expectStatus(response, 202);
	const record = parseJson(response, OperationRecord);
	expect(response.headers.get("Location")).toBe(`/v1/operations/${record.id}`);
	return record;
}

async function submitAll(count: number, body: (i: number) => Parameters<ApiClient["submit"]>[0]): Promise<string[]> {
	return mapPool(
		Array.from({ length: count }, (_, i) => i),
		8,
		async (i) => (await api.submit(body(i))).record.id,
	);
}

describe("retry and delete of one task", () => {
	it("a failed task keeps its attempt history, is retried under the same id, succeeds, and is deleted", async () => {
		const { record } = await api.submit({ type: "flaky", payload: { failTimes: 1 }, maxAttempts: 1 });
		const failed = await api.waitForTerminal(record.id, DEADLINE_MS);
		expect(failed).toMatchObject({ status: "failed", attempts: 1, error: { name: "Error" } });
		expect(failed.attemptHistory.map((a) => [a.attempt, a.outcome, a.error?.name])).toEqual([[1, "failed", "Error"]]);
		expect(failed.attemptHistory[0]?.durationMs).toBeGreaterThanOrEqual(0);

		const retried = await api.request("POST", `/v1/tasks/${record.id}/retry`);
		expectStatus(retried, 202);
		expect(parseJson(retried, TaskRecord)).toMatchObject({ id: record.id, status: "queued", attempts: 1 });

		const done = await api.waitForTerminal(record.id, DEADLINE_MS);
		expect(done).toMatchObject({ status: "succeeded", attempts: 2, result: { attempts: 2 } });
		expect(done.attemptHistory.map((a) => a.outcome)).toEqual(["failed", "succeeded"]);

		// Retrying a succeeded task is refused; deleting it works once.
		const again = await api.request("POST", `/v1/tasks/${record.id}/retry`);
		expect(again.status).toBe(409);
		expect(parseProblem(again).type).toBe("urn:taskflare:problem:conflict");
		const deleted = await api.request("DELETE", `/v1/tasks/${record.id}`);
		expect(deleted.status).toBe(204);
		expect(deleted.text).toBe("");
		expect((await api.request("GET", `/v1/tasks/${record.id}`)).status).toBe(404);
		expect((await api.request("DELETE", `/v1/tasks/${record.id}`)).status).toBe(404);
	});

	it("works through the typed client: retry, delete, operation", async () => {
		const task = await client.submit({ type: "flaky", payload: { failTimes: 1 }, maxAttempts: 1 });
		expect((await client.wait(task.id, { timeoutMs: DEADLINE_MS })).status).toBe("failed");
		expect(await client.retry(task.id)).toMatchObject({ id: task.id, status: "queued" });
		const done = await client.wait(task.id, { timeoutMs: DEADLINE_MS });
		expect(done.attemptHistory.map((a) => a.outcome)).toEqual(["failed", "succeeded"]);
		await client.delete(task.id);
		await expect(client.get(task.id)).rejects.toMatchObject({ name: "TaskflareError", status: 404 });
		const operation = await client.bulk({ action: "delete", ids: [task.id] });
		const ended = await client.waitForOperation(operation.id, { timeoutMs: DEADLINE_MS, intervalMs: 200 });
		expect(ended).toMatchObject({ state: "succeeded", skippedByStatus: { "not-found": 1 } });
		expect(await client.operation(operation.id)).toEqual(ended);
	});

	it("refuses to retry or delete a task that is not final (409)", async () => {
		const { record } = await api.submit({ type: "sleep", payload: { ms: 8000 } });
		// Wait until it runs, so the 409s are about a running task.
		const deadline = Date.now() + DEADLINE_MS;
		while ((await api.getTask(record.id)).status !== "running") {
			if (Date.now() > deadline) throw new Error("the sleep task never started");
			await delay(100);
		}
		const retry = await api.request("POST", `/v1/tasks/${record.id}/retry`);
		expect(retry.status).toBe(409);
		expect(parseProblem(retry).detail).toMatch(/running/);
		expect((await api.request("DELETE", `/v1/tasks/${record.id}`)).status).toBe(409);
		expect((await api.request("POST", `/v1/tasks/${randomBytes(32).toString("hex")}/retry`)).status).toBe(404);
		expect((await api.waitForTerminal(record.id, DEADLINE_MS)).status).toBe("succeeded");
	});
});

/** Every task GET /v1/tasks lists for this query, following the cursor. */
async function listAll(query: string) {
	const tasks: TaskPage["tasks"] = [];
	let cursor: string | null = null;
	do {
		const response = await api.request("GET", `/v1/tasks?${query}&limit=200${cursor === null ? "" : `&cursor=${cursor}`}`);
		expectStatus(response, 200);
		const page: TaskPage = parseJson(response, TaskPage);
		tasks.push(...page.tasks);
		cursor = page.nextCursor;
	} while (cursor !== null);
	return tasks;
}

/** Polls until the index lists exactly `count` tasks for the query (it follows changes within ~1 s). */
async function waitUntilListed(query: string, count: number) {
	const deadline = Date.now() + DEADLINE_MS;
	for (;;) {
		const listed = await listAll(query);
		if (listed.length === count) return listed;
		if (Date.now() > deadline) throw new Error(`${query}: ${listed.length} listed, expected ${count}`);
		await delay(250);
	}
}

describe("bulk operations by filter", () => {
	it("bulk-retries the failed tasks of one type found by tag and status; they succeed", async () => {
		const tag = `e2e-bulk-retry:${randomBytes(6).toString("hex")}`;
		const flaky = await submitAll(24, () => ({ type: "flaky", payload: { failTimes: 2 }, maxAttempts: 2, tags: [tag] }));
		const failing = await submitAll(4, () => ({ type: "fail", payload: { message: "always" }, tags: [tag] }));
		const fine = await submitAll(4, (i) => ({ type: "echo", payload: { i }, tags: [tag] }));
		for (const id of [...flaky, ...failing, ...fine]) await api.waitForTerminal(id, DEADLINE_MS);
		await waitUntilListed(`tag=${encodeURIComponent(tag)}&status=failed`, 28);

		const started = await startBulk({ action: "retry", filter: { tag, type: "flaky", status: ["failed"] } });
		expect(started.filter).toMatchObject({ tag, type: "flaky", status: ["failed"] });
		const ended = await operationUntilEnded(started.id);
		expect(ended).toMatchObject({ state: "succeeded", matched: 24, done: 24, skipped: 0, failed: 0 });

		for (const record of await mapPool(flaky, 8, (id) => api.waitForTerminal(id, DEADLINE_MS))) {
			expect(record).toMatchObject({ status: "succeeded", attempts: 3 });
		}
		// The index follows: only the `fail` tasks are still failed, untouched.
		const stillFailed = await waitUntilListed(`tag=${encodeURIComponent(tag)}&status=failed`, 4);
		expect(stillFailed.map((t) => t.id).sort()).toEqual([...failing].sort());
		expect(stillFailed.every((t) => t.type === "fail" && t.attempts === 1)).toBe(true);
	});

	it("bulk-cancels queued tasks by tag, then bulk-deletes them; the list is empty afterwards", async () => {
		const tag = `e2e-bulk-cancel:${randomBytes(6).toString("hex")}`;
		const ids = await submitAll(150, (i) => ({ type: "echo", payload: { i }, delaySeconds: 3600, tags: [tag] }));
		await waitUntilListed(`tag=${encodeURIComponent(tag)}&status=queued`, 150);

		const cancelled = await operationUntilEnded((await startBulk({ action: "cancel", filter: { tag } })).id);
		expect(cancelled).toMatchObject({ state: "succeeded", matched: 150, done: 150 });
		const statuses = new Set<TaskStatus>((await mapPool(ids, 8, (id) => api.getTask(id))).map((r) => r.status));
		expect([...statuses]).toEqual(["cancelled"]);

		await waitUntilListed(`tag=${encodeURIComponent(tag)}&status=cancelled`, 150);
		const deleted = await operationUntilEnded((await startBulk({ action: "delete", filter: { tag, status: ["cancelled"] } })).id);
		expect(deleted).toMatchObject({ state: "succeeded", matched: 150, done: 150 });
		expect(await listAll(`tag=${encodeURIComponent(tag)}`)).toEqual([]);
		for (const id of ids.slice(0, 10)) expect((await api.request("GET", `/v1/tasks/${id}`)).status).toBe(404);
	});

	it("answers 422 for an empty or misspelt filter", async () => {
		const empty = await api.request("POST", "/v1/tasks/bulk", { json: { action: "delete", filter: {} } });
		expect(empty.status).toBe(422);
		expect(parseProblem(empty).errors?.map((e) => e.path)).toEqual(["filter"]);
		const typo = await api.request("POST", "/v1/tasks/bulk", { json: { action: "delete", filter: { stauts: "failed" } } });
		expect(typo.status).toBe(422);
		expect(parseProblem(typo).errors?.map((e) => e.path)).toEqual(["filter.stauts"]);
	});
});

describe("bulk operations by ids", () => {
	it("bulk-retries failed tasks, which then succeed; counts a succeeded one as skipped", async () => {
		const failing = await submitAll(30, () => ({ type: "flaky", payload: { failTimes: 2 }, maxAttempts: 2 }));
		const fine = (await api.submit({ type: "echo", payload: { fine: true } })).record.id;
		for (const id of [...failing, fine]) await api.waitForTerminal(id, DEADLINE_MS);
		expect((await api.getTask(failing[0] ?? "")).status).toBe("failed");

		const started = await client.bulk({ action: "retry", ids: [...failing, fine] });
		expect(started).toMatchObject({ state: "running", matched: 31 });
		const ended = await client.waitForOperation(started.id, { timeoutMs: DEADLINE_MS, intervalMs: 250 });
		expect(ended).toMatchObject({ state: "succeeded", matched: 31, done: 30, skipped: 1, failed: 0, skippedByStatus: { succeeded: 1 } });

		const records = await mapPool(failing, 8, (id) => api.waitForTerminal(id, DEADLINE_MS));
		for (const record of records) {
			expect(record).toMatchObject({ status: "succeeded", attempts: 3, result: { attempts: 3 } });
			expect(record.attemptHistory.map((a) => a.outcome)).toEqual(["failed", "failed", "succeeded"]);
		}
	});

	it("bulk-cancels delayed tasks, then bulk-deletes them", async () => {
		const ids = await submitAll(40, (i) => ({ type: "echo", payload: { i }, delaySeconds: 3600 }));
		const cancelled = await operationUntilEnded((await startBulk({ action: "cancel", ids })).id);
		expect(cancelled).toMatchObject({ state: "succeeded", action: "cancel", matched: 40, done: 40, skipped: 0 });
		for (const id of ids) expect((await api.getTask(id)).status).toBe("cancelled");

		const deleted = await operationUntilEnded((await startBulk({ action: "delete", ids })).id);
		expect(deleted).toMatchObject({ state: "succeeded", action: "delete", matched: 40, done: 40 });
		for (const id of ids) expect((await api.request("GET", `/v1/tasks/${id}`)).status).toBe(404);
	});

	it("stops a running operation through the typed client (the tasks it had not reached stay queued); a keyed repeat answers the same operation", async () => {
		const TASKS = 1000;
		const tag = `e2e-bulk-stop:${randomBytes(6).toString("hex")}`;
		const ids = (
			await mapPool(
				Array.from({ length: TASKS / 100 }, (_, batch) => batch),
				2,
				async (batch) => {
					const tasks = Array.from({ length: 100 }, (_, i) => ({ type: "echo", payload: { batch, i }, delaySeconds: 3600, tags: [tag] }));
					const response = await api.request("POST", "/v1/tasks/batch", { json: { tasks } });
					expectStatus(response, 202);
					return parseJson(response, TaskRecordList).tasks.map((task) => task.id);
				},
			)
		).flat();

		// Ten chunks of 100 take seconds here; the cancel arrives while the first is under way.
		const started = await client.bulk({ action: "cancel", ids });
		const stopped = await client.cancelOperation(started.id);
		// The answer comes once the chunk under way saved what it did: its counts are final.
		expect(stopped).toMatchObject({ state: "cancelled", matched: TASKS, skipped: 0, failed: 0 });
		expect(stopped.done).toBeLessThan(TASKS);
		expect(await client.cancelOperation(started.id)).toEqual(stopped);
		const statuses = (await mapPool(ids, 8, (id) => api.getTask(id))).map((record) => record.status);
		expect(statuses.filter((status) => status === "cancelled")).toHaveLength(stopped.done);
		expect(statuses.filter((status) => status === "queued")).toHaveLength(TASKS - stopped.done);
		expect(await client.operation(started.id)).toEqual(stopped);
		await waitUntilListed(`tag=${encodeURIComponent(tag)}&status=queued`, TASKS - stopped.done);

		// With an Idempotency-Key, a repeated bulk request answers the first one's operation.
		const key = `e2e-bulk-key-${randomBytes(6).toString("hex")}`;
		const once = await client.bulk({ action: "cancel", ids: ids.slice(0, 2) }, { idempotencyKey: key });
		const twice = await client.bulk({ action: "cancel", ids: ids.slice(0, 2).reverse() }, { idempotencyKey: key });
		expect(twice.id).toBe(once.id);
		const reused = await api.request("POST", "/v1/tasks/bulk", {
			json: { action: "delete", ids: ids.slice(0, 2) },
			headers: { "Idempotency-Key": key },
		});
		expect(reused.status).toBe(422);

		// An operation that ended cannot be cancelled.
		const ended = await client.waitForOperation((await client.bulk({ action: "delete", ids: [ids[0] ?? ""] })).id, {
			timeoutMs: DEADLINE_MS,
			intervalMs: 250,
		});
		expect(ended.state).toBe("succeeded");
		const conflict = await api.request("POST", `/v1/operations/${ended.id}/cancel`);
		expect(conflict.status).toBe(409);
		expect(parseProblem(conflict).detail).toMatch(/already succeeded/);
	});

	it("answers 422 with paths for a bad bulk body and 404 for an unknown operation", async () => {
		const bad = await api.request("POST", "/v1/tasks/bulk", { json: { action: "retry", ids: ["x"] } });
		expect(bad.status).toBe(422);
		expect(parseProblem(bad).errors?.map((e) => e.path)).toEqual(["ids.0"]);
		const tooMany = await api.request("POST", "/v1/tasks/bulk", {
			json: { action: "delete", ids: Array.from({ length: 1001 }, () => "a".repeat(64)) },
		});
		expect(tooMany.status).toBe(422);
		expect((await api.request("GET", `/v1/operations/${randomBytes(32).toString("hex")}`)).status).toBe(404);
		expect((await api.request("POST", "/v1/tasks/bulk", { json: { action: "retry", ids: ["a".repeat(64)] }, token: null })).status).toBe(
			401,
		);
	});
});
