// Flow control against a real `wrangler dev`, measured from the tasks' own records (each attempt's
// startedAt and finishedAt in attemptHistory): 200 tasks of a type with concurrency 3 never have
// more than 3 attempts running at once; a type with rateLimit 5 per 1 s never starts more than 5 in
// any 1-second window and still finishes them all; one key flooding 300 tasks of a type with
// keyConcurrency 2 does not hold up another key's 10; priority-9 tasks submitted last start before
// the priority-0 backlog. Also the limits routes and the typed client.
import { afterAll, expect, inject, it } from "vitest";
import { createClient } from "../../src/client";
import { LimitInfo, LimitList } from "../../src/limit-schemas";
import { OperationRecord, type TaskRecord, TaskRecordList } from "../../src/schemas";
import { ApiClient, expectStatus, mapPool, parseJson } from "./client";

const api = new ApiClient(inject("baseUrl"), inject("apiToken"));

afterAll(() => {
	expect(api.serverErrors).toEqual([]);
});

type Interval = { start: number; end: number };

/** Every attempt of the tasks as [start, end) in epoch ms (attempts still running end at +∞). */
function attempts(records: readonly TaskRecord[]): Interval[] {
	return records.flatMap((r) =>
		r.attemptHistory.map((a) => ({
			start: Date.parse(a.startedAt),
			end: a.finishedAt ? Date.parse(a.finishedAt) : Number.POSITIVE_INFINITY,
		})),
	);
}

/** The most attempts running at one moment ([start, end): one ending as another starts do not overlap). */
function mostAtOnce(intervals: readonly Interval[]): number {
	const edges = intervals.flatMap((i) => [
		{ at: i.start, d: 1 },
		{ at: i.end, d: -1 },
	]);
	edges.sort((p, q) => p.at - q.at || p.d - q.d);
	let running = 0;
	let most = 0;
	for (const edge of edges) {
		running += edge.d;
		most = Math.max(most, running);
	}
	return most;
}

/** The most starts in any window of `ms`, closed at both ends (so stricter than [t, t + ms)). */
function mostStartsWithin(starts: readonly number[], ms: number): number {
	const sorted = [...starts].sort((p, q) => p - q);
	let most = 0;
	let first = 0;
	for (let last = 0; last < sorted.length; last++) {
		while ((sorted[last] ?? 0) - (sorted[first] ?? 0) > ms) first++;
		most = Math.max(most, last - first + 1);
	}
	return most;
}

async function submitAll(bodies: readonly object[]): Promise<TaskRecord[]> {
	const records: TaskRecord[] = [];
	for (let i = 0; i < bodies.length; i += 100) {
		const response = await api.request("POST", "/v1/tasks/batch", { json: { tasks: bodies.slice(i, i + 100) } });
		expectStatus(response, 202);
		records.push(...parseJson(response, TaskRecordList).tasks);
	}
	return records;
}

function finals(records: readonly TaskRecord[], deadlineMs: number): Promise<TaskRecord[]> {
	const deadline = Date.now() + deadlineMs;
	return mapPool(records, 16, (r) => api.waitForTerminal(r.id, Math.max(1000, deadline - Date.now())));
}

/** Cancels every task carrying `tag` that is still waiting (bulk, by filter), and waits for the operation. */
async function cancelWaiting(tag: string): Promise<void> {
	const response = await api.request("POST", "/v1/tasks/bulk", { json: { action: "cancel", filter: { tag } } });
	expectStatus(response, 202);
	const op = parseJson(response, OperationRecord);
	for (let i = 0; i < 120; i++) {
		const current = parseJson(await api.request("GET", `/v1/operations/${op.id}`), OperationRecord);
		if (current.state !== "running") return;
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
	throw new Error("bulk cancel did not finish");
}

it(
	"200 tasks of a type with concurrency 3 never have more than 3 attempts running at once, and all succeed",
	{ timeout: 300_000 },
	async () => {
		const records = await submitAll(
			Array.from({ length: 200 }, (_, i) => ({ type: "limited-concurrency", payload: { ms: 100 + (i % 5) * 20 } })),
		);
		const done = await finals(records, 240_000);
		const intervals = attempts(done);
		const most = mostAtOnce(intervals);
		const first = Math.min(...intervals.map((i) => i.start));
		const last = Math.max(...intervals.map((i) => i.end));
		console.log(
			`concurrency 3: ${JSON.stringify({ tasks: done.length, attempts: intervals.length, mostAtOnce: most, seconds: (last - first) / 1000 })}`,
		);
		expect(done.filter((r) => r.status !== "succeeded")).toEqual([]);
		expect(most).toBeLessThanOrEqual(3);
		// The limit is used, not just respected (the tasks overlapped).
		expect(most).toBeGreaterThanOrEqual(2);
	},
);

it(
	"a type with rateLimit 5 per 1 s never starts more than 5 in any 1-second window, and finishes them all",
	{ timeout: 180_000 },
	async () => {
		const records = await submitAll(Array.from({ length: 40 }, () => ({ type: "limited-rate", payload: { ms: 50 } })));
		const done = await finals(records, 150_000);
		const starts = attempts(done).map((i) => i.start);
		const most = mostStartsWithin(starts, 1000);
		const sorted = [...starts].sort((p, q) => p - q);
		const gaps = sorted.slice(1).map((at, i) => at - (sorted[i] ?? at));
		console.log(
			`rate 5/s: ${JSON.stringify({ tasks: done.length, starts: starts.length, mostIn1s: most, minGapMs: Math.min(...gaps), seconds: ((sorted.at(-1) ?? 0) - (sorted[0] ?? 0)) / 1000 })}`,
		);
		expect(done.filter((r) => r.status !== "succeeded")).toEqual([]);
		expect(most).toBeLessThanOrEqual(5);
		// Evenly: one start every 201 ms at the most, not bursts at the start of each second.
		expect(Math.min(...gaps)).toBeGreaterThanOrEqual(201);
	},
);

it(
	"one key flooding 300 tasks (keyConcurrency 2) does not hold up another key's 10: they start within seconds",
	{ timeout: 240_000 },
	async () => {
		const run = crypto.randomUUID().slice(0, 8);
		const tag = `flood-${run}`;
		const flood = await submitAll(
			Array.from({ length: 300 }, () => ({ type: "limited-key", payload: { ms: 500 }, concurrencyKey: `tenant-a-${run}`, tags: [tag] })),
		);
		const others = await submitAll(
			Array.from({ length: 10 }, () => ({ type: "limited-key", payload: { ms: 500 }, concurrencyKey: `tenant-b-${run}` })),
		);
		const othersDone = await finals(others, 120_000);
		const startDelays = othersDone.map((r) => Date.parse(r.attemptHistory[0]?.startedAt ?? "") - Date.parse(r.createdAt));
		// The flood's tasks still waiting are cancelled; those running end by themselves.
		await cancelWaiting(tag);
		const floodDone = await finals(flood, 120_000);
		const floodRan = floodDone.filter((r) => r.attempts > 0);
		console.log(
			`key flood: ${JSON.stringify({
				otherStartDelaysMs: startDelays,
				otherMostAtOnce: mostAtOnce(attempts(othersDone)),
				floodRan: floodRan.length,
				floodCancelled: floodDone.filter((r) => r.status === "cancelled").length,
				floodMostAtOnce: mostAtOnce(attempts(floodDone)),
			})}`,
		);
		expect(othersDone.filter((r) => r.status !== "succeeded")).toEqual([]);
		// Within seconds: 10 tasks of 0.5 s, two at a time, behind a flood of 300 (generous for a loaded machine).
		for (const delay of startDelays) expect(delay).toBeLessThan(20_000);
		expect(mostAtOnce(attempts(othersDone))).toBeLessThanOrEqual(2);
		expect(mostAtOnce(attempts(floodDone))).toBeLessThanOrEqual(2);
		expect(floodDone.filter((r) => r.status === "failed")).toEqual([]);
	},
);

it("under a limit, priority-9 tasks submitted last start before the priority-0 backlog", { timeout: 240_000 }, async () => {
	const low = await submitAll(Array.from({ length: 40 }, () => ({ type: "limited-concurrency", payload: { ms: 300 }, priority: 0 })));
	// Once the backlog has formed (some of it running), the urgent ones arrive.
	for (let i = 0; i < 100; i++) {
		const seen = await mapPool(low.slice(0, 10), 10, (r) => api.getTask(r.id));
		if (seen.some((r) => r.attempts > 0)) break;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	const high = await submitAll(Array.from({ length: 5 }, () => ({ type: "limited-concurrency", payload: { ms: 300 }, priority: 9 })));
	const submittedAt = Math.max(...high.map((r) => Date.parse(r.createdAt)));
	const [lowDone, highDone] = await Promise.all([finals(low, 200_000), finals(high, 200_000)]);
	const startOf = (r: TaskRecord) => Date.parse(r.attemptHistory[0]?.startedAt ?? "");
	const backlog = lowDone.filter((r) => startOf(r) > submittedAt);
	const lastHigh = Math.max(...highDone.map(startOf));
	// Priority-0 tasks of the backlog that started before the last priority-9 one: at most the 3
	// already admitted (their permits reserved) when the urgent ones joined the line.
	const overtaking = backlog.filter((r) => startOf(r) < lastHigh).length;
	console.log(`priority: ${JSON.stringify({ backlog: backlog.length, lowStartedBeforeLastHigh: overtaking })}`);
	expect([...lowDone, ...highDone].filter((r) => r.status !== "succeeded")).toEqual([]);
	expect(backlog.length).toBeGreaterThanOrEqual(20);
	expect(overtaking).toBeLessThanOrEqual(3);
});

it("GET, PUT and DELETE /v1/limits over HTTP and through the typed client", async () => {
	const list = parseJson(await api.request("GET", "/v1/limits"), LimitList);
	expect(list.limits.find((entry) => entry.type === "limited-rate")?.limits.rateLimit).toEqual({ limit: 5, periodSeconds: 1 });
	const put = await api.request("PUT", "/v1/limits/limited-rate", {
		json: { rateLimit: { limit: 20, periodSeconds: 1 }, keyConcurrency: 4 },
	});
	expectStatus(put, 200);
	expect(parseJson(put, LimitInfo).limits).toEqual({
		concurrency: null,
		rateLimit: { limit: 20, periodSeconds: 1 },
		keyConcurrency: 4,
		keyRateLimit: null,
	});
	const client = createClient({ baseUrl: api.baseUrl, token: inject("apiToken") });
	expect((await client.limits.list()).find((entry) => entry.type === "limited-rate")?.override).toEqual({
		rateLimit: { limit: 20, periodSeconds: 1 },
		keyConcurrency: 4,
	});
	await client.limits.delete("limited-rate");
	expect((await client.limits.put("limited-key", { keyConcurrency: 5 })).limits.keyConcurrency).toBe(5);
	await client.limits.delete("limited-key");
	expect((await client.limits.list()).every((entry) => entry.override === null)).toBe(true);
	const unknown = await api.request("PUT", "/v1/limits/nope", { json: { concurrency: 1 } });
	expect(unknown.status).toBe(404);
});
