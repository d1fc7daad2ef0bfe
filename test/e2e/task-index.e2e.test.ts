// The task index against a real `wrangler dev`: 2,000 tasks of several types and tags (some fail,
// some are cancelled, some wait), listed page by page with every filter and compared with what
// was submitted (no repeats, no gaps, newest first), and GET /v1/stats compared with the truth.
import { afterAll, expect, inject, it } from "vitest";
import { TaskPage, TaskRecordList, TaskStats, type TaskStatus, type TaskSummary } from "../../src/schemas";
import { ApiClient, expectStatus, mapPool, parseJson } from "./client";

const api = new ApiClient(inject("baseUrl"), inject("apiToken"));

const TASKS = 2000;
const BATCH = 100;
const run = crypto.randomUUID().slice(0, 8);
const runTag = `run:${run}`;
const groups = ["a", "b", "c"].map((g) => `group:${run}:${g}`);

type Planned = { body: { type: string; payload: unknown; delaySeconds?: number; tags: string[] }; expected: TaskStatus };

/** Deterministic mix: 60% echo, 15% fail, 10% sha256, 15% delayed an hour (a third of those cancelled). */
function plan(i: number): Planned {
	const tags = [runTag, groups[i % 3] ?? runTag, `customer:${i % 17}`];
	const kind = i % 20;
	if (kind < 12) return { body: { type: "echo", payload: { i }, tags }, expected: "succeeded" };
	if (kind < 15) return { body: { type: "fail", payload: { message: `no ${i}` }, tags }, expected: "failed" };
	if (kind < 17) return { body: { type: "sha256", payload: { text: `${i}`, iterations: 10 }, tags }, expected: "succeeded" };
	return { body: { type: "echo", payload: { i }, delaySeconds: 3600, tags }, expected: kind === 17 ? "cancelled" : "queued" };
}

async function page(query: string): Promise<TaskPage> {
	const response = await api.request("GET", `/v1/tasks?${query}`);
	expectStatus(response, 200);
	return parseJson(response, TaskPage);
}

/** Every page of the query; checks each page's size and that pages come newest first without overlap. */
async function listAll(query: string, limit: number): Promise<TaskSummary[]> {
	const all: TaskSummary[] = [];
	let cursor: string | null = null;
	do {
		const next: TaskPage = await page(`${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
		if (next.nextCursor !== null) expect(next.tasks).toHaveLength(limit);
		all.push(...next.tasks);
		cursor = next.nextCursor;
	} while (cursor !== null);
	for (let i = 1; i < all.length; i++) {
		const [a, b] = [all[i - 1], all[i]];
		if (!a || !b) continue;
		// Strictly newest first by (createdAt, id): no repeats, a total order.
		expect(a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id), `order at ${i}`).toBe(true);
	}
	return all;
}

async function stats(): Promise<TaskStats> {
	const response = await api.request("GET", "/v1/stats");
	expectStatus(response, 200);
	return parseJson(response, TaskStats);
}

async function quiescentStats(): Promise<TaskStats> {
	let last = "";
	let stableSince = Date.now();
	return until("stats to stop changing", 60_000, async () => {
		const now = await stats();
		const key = JSON.stringify([now.byType, now.lastHour.map((m) => [m.created, m.succeeded, m.failed])]);
		if (key !== last) {
			last = key;
			stableSince = Date.now();
			return false;
		}
		return Date.now() - stableSince >= 3000 ? now : false;
	});
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | false>): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== false) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 1000));
	}
}

afterAll(() => {
	expect(api.serverErrors).toEqual([]);
});

it(`lists ${TASKS} tasks page by page with every filter, and counts them in /v1/stats`, { timeout: 600_000 }, async () => {
	// Earlier files' last tasks may still be reaching the index (changes are sent within 0.5 s,
	// counters written within 1 s): start from counts that stay put for 3 s.
	const before = await quiescentStats();
	const plans = Array.from({ length: TASKS }, (_, i) => plan(i));
	const batches = Array.from({ length: TASKS / BATCH }, (_, b) => plans.slice(b * BATCH, (b + 1) * BATCH));
	const created = (
		await mapPool(batches, 4, async (batch) => {
			const response = await api.request("POST", "/v1/tasks/batch", { json: { tasks: batch.map((p) => p.body) } });
			expectStatus(response, 202);
			return parseJson(response, TaskRecordList).tasks;
		})
	).flat();
	expect(created).toHaveLength(TASKS);
	// Read-your-writes: every task is listed at once, queued or further along.
	expect((await listAll(`tag=${runTag}`, 200)).length).toBe(TASKS);

	const truth = new Map<string, { expected: TaskStatus; type: string; tags: string[]; createdAt: string }>();
	created.forEach((record, i) => {
		const planned = plans[i];
		if (!planned) throw new Error("missing plan");
		truth.set(record.id, { expected: planned.expected, type: record.type, tags: planned.body.tags, createdAt: record.createdAt });
	});
	await mapPool(
		[...truth].filter(([, t]) => t.expected === "cancelled"),
		16,
		async ([id]) => expectStatus(await api.request("POST", `/v1/tasks/${id}/cancel`), 200),
	);

	// Everything that runs has ended, as the index sees it.
	const waiting = [...truth.values()].filter((t) => t.expected === "queued").length;
	await until("every runnable task to end", 480_000, async () => {
		const open = await listAll(`tag=${runTag}&status=queued,running,retrying`, 200);
		return open.length === waiting || false;
	});

	const expectIds = (
		listed: TaskSummary[],
		keep: (t: { expected: TaskStatus; type: string; tags: string[]; createdAt: string }) => boolean,
	) => {
		const ids = listed.map((t) => t.id);
		expect(new Set(ids).size, "no repeats").toBe(ids.length);
		const wanted = [...truth].filter(([, t]) => keep(t)).map(([id]) => id);
		expect(ids.slice().sort(), "no gaps, nothing extra").toEqual(wanted.sort());
	};

	const everything = await listAll(`tag=${runTag}`, 137);
	expectIds(everything, () => true);
	for (const summary of everything) {
		const known = truth.get(summary.id);
		expect(summary).toMatchObject({ status: known?.expected, type: known?.type, tags: known?.tags });
	}
	for (const status of ["succeeded", "failed", "cancelled", "queued"] as const) {
		expectIds(await listAll(`tag=${runTag}&status=${status}`, 200), (t) => t.expected === status);
	}
	expectIds(
		await listAll(`tag=${runTag}&status=failed&status=cancelled`, 50),
		(t) => t.expected === "failed" || t.expected === "cancelled",
	);
	expectIds(await listAll(`tag=${runTag}&type=sha256`, 200), (t) => t.type === "sha256");
	expectIds(
		await listAll(`tag=${runTag}&type=echo&status=queued,cancelled`, 200),
		(t) => t.type === "echo" && (t.expected === "queued" || t.expected === "cancelled"),
	);
	expectIds(await listAll(`tag=${encodeURIComponent(groups[1] ?? "")}`, 200), (t) => t.tags.includes(groups[1] ?? ""));
	expectIds(await listAll(`tag=customer:5&createdAfter=${encodeURIComponent(before.generatedAt)}`, 200), (t) =>
		t.tags.includes("customer:5"),
	);
	// Without a tag (the index's whole width), scoped by time: failed tasks of this run only.
	const times = created.map((r) => r.createdAt).sort();
	const [first, last] = [times[0] ?? "", times.at(-1) ?? ""];
	const end = encodeURIComponent(new Date(Date.parse(last) + 1).toISOString());
	expectIds(
		await listAll(`status=failed&createdAfter=${encodeURIComponent(first)}&createdBefore=${end}`, 200),
		(t) => t.expected === "failed",
	);
	// createdAfter (inclusive) and createdBefore (exclusive) split the run without overlap.
	const middle = times[TASKS / 2] ?? "";
	const older = await listAll(`tag=${runTag}&createdBefore=${encodeURIComponent(middle)}`, 200);
	const newer = await listAll(`tag=${runTag}&createdAfter=${encodeURIComponent(middle)}`, 200);
	expectIds([...newer, ...older], () => true);
	expect(older.every((t) => t.createdAt < middle) && newer.every((t) => t.createdAt >= middle)).toBe(true);

	// Stats: this file's tasks are the only ones changing now; compare the differences with the truth.
	const count = (status: TaskStatus, type?: string) =>
		[...truth.values()].filter((t) => t.expected === status && (type === undefined || t.type === type)).length;
	const after = await until("stats to match the truth", 30_000, async () => {
		const now = await stats();
		const diff = (status: TaskStatus, type: string) => (now.byType[type]?.[status] ?? 0) - (before.byType[type]?.[status] ?? 0);
		const sum = (s: TaskStats, key: "created" | "succeeded" | "failed") => s.lastHour.reduce((n, m) => n + m[key], 0);
		const matches =
			diff("succeeded", "echo") === count("succeeded", "echo") &&
			diff("succeeded", "sha256") === count("succeeded", "sha256") &&
			diff("failed", "fail") === count("failed", "fail") &&
			diff("queued", "echo") === count("queued", "echo") &&
			diff("cancelled", "echo") === count("cancelled", "echo") &&
			sum(now, "created") - sum(before, "created") === TASKS &&
			sum(now, "succeeded") - sum(before, "succeeded") === count("succeeded") &&
			sum(now, "failed") - sum(before, "failed") === count("failed");
		return matches ? now : false;
	});
	expect(after.byStatus.running).toBe(0);
	expect(after.queues.tasks?.backlogCount).toBeTypeOf("number");
	expect(after.queues.deadLetter).toMatchObject({ backlogCount: 0 });
	console.log(`task index e2e: ${JSON.stringify({ tasks: TASKS, byStatus: after.byStatus, queues: after.queues })}`);
});
