// The limiter Durable Object with real task objects: permits granted and released, a permit that
// expires with its attempt's lease when the consumer dies, a lost release reclaimed only once the
// task's object says its attempt is over, priorities and the anti-starvation rule, per-key
// isolation, rate limits. Each test uses a type of its own (so limiters of its own); the tasks its
// limiters wake are sent to the real local queue, whose consumer starts them (their type is not
// registered, so their attempt fails at once with UnknownTaskTypeError, which ends it and releases
// its permit: the order they start in is the order they were admitted in).
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { LEASE_SECONDS } from "../src/config";
import { type AttemptLimits, CHECK_AFTER_MS, LOOKAHEAD_MS, PRIORITY_STEP_MS, startInterval } from "../src/durable/limiter-object";
import { limiterName, limiterStub, typeLimiterStub } from "../src/durable/limiter-stub";
import type { StartResult, TaskObject } from "../src/durable/task-object";
import { newTaskStub } from "../src/durable/task-stub";
import type { TaskRecord } from "../src/schemas";
import { inTheFuture, readRecord } from "./helpers";

const SECOND = 1000;

type Task = { id: string; stub: DurableObjectStub<TaskObject> };

/** A queued task of `type` in its own object (nothing sent to the queue). */
async function task(type: string, options: { priority?: number; concurrencyKey?: string } = {}): Promise<Task> {
	const { id, stub } = newTaskStub(env);
	await stub.create({ type, payloadJson: "{}", maxAttempts: 3, timeoutSeconds: 660, delaySeconds: 0, ...options });
	return { id, stub };
}

const uniqueType = () => `limited-test-${crypto.randomUUID()}`;
const concurrency = (n: number): AttemptLimits => ({ version: 0, type: { concurrency: n, rateLimit: null }, key: null });

/** Two tasks of a new type whose attempts take one permit at a time (concurrency 1). */
async function twoTasksOneAtATime(): Promise<{ type: string; limits: AttemptLimits; first: Task; second: Task }> {
	const type = uniqueType();
	const [first, second] = await Promise.all([task(type), task(type)]);
	return { type, limits: concurrency(1), first, second };
}

async function run(t: Task, limits: AttemptLimits): Promise<Extract<StartResult, { kind: "run" }>> {
	const start = await t.stub.start({ limits });
	if (start.kind !== "run") throw new Error(`expected a run, got ${JSON.stringify(start)}`);
	return start;
}

async function record(t: Task): Promise<TaskRecord> {
	const r = await readRecord(t.stub);
	if (!r) throw new Error(`task ${t.id} is gone`);
	return r;
}

/** Polls until the task's first attempt has started (its limiter woke it and the consumer ran it). */
function startedAt(t: Task, timeout = 15_000): Promise<number> {
	return vi.waitUntil(
		async () => {
			const first = (await record(t)).attemptHistory[0];
			return first ? Date.parse(first.startedAt) : false;
		},
		{ timeout, interval: 50 },
	);
}

describe("limiter: concurrency", () => {
	it("grants `concurrency` permits, lines up the rest (queued, waitingFor, no attempt spent), admits the next on release", async () => {
		const type = uniqueType();
		const limits = concurrency(2);
		const [a, b, c] = await Promise.all([task(type), task(type), task(type)]);
		if (!a || !b || !c) throw new Error("three tasks");
		const first = await run(a, limits);
		await run(b, limits);
		expect(await c.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		// A second delivery changes nothing: still one place in line.
		expect(await c.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		expect(await record(c)).toMatchObject({ status: "queued", attempts: 0, waitingFor: "concurrency" });
		expect((await typeLimiterStub(env, type).describe()).usage).toEqual({ running: 2, waiting: 1, nextStartAt: null });

		// a's attempt ends: its permit goes back and c is woken.
		await a.stub.finish(first.attempt, { ok: true, resultJson: "1" });
		await startedAt(c);
		expect((await record(c)).waitingFor).toBeUndefined();
		// c's attempt ended too (its type is not registered): only b holds a permit.
		await vi.waitUntil(async () => (await record(c)).status === "failed", { timeout: 10_000 });
		expect((await typeLimiterStub(env, type).describe()).usage).toEqual({ running: 1, waiting: 0, nextStartAt: null });
	});

	it("frees a waiting task's place when it is cancelled", async () => {
		const { type, limits, first: a, second: b } = await twoTasksOneAtATime();
		await run(a, limits);
		expect(await b.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		expect((await b.stub.cancel()).kind).toBe("cancelled");
		expect((await record(b)).waitingFor).toBeUndefined();
		expect((await typeLimiterStub(env, type).describe()).usage).toMatchObject({ running: 1, waiting: 0 });
	});

	it("lets a permit expire with its attempt's lease when the consumer dies", async () => {
		const { type, limits, first: a, second: b } = await twoTasksOneAtATime();
		await run(a, limits);
		expect(await b.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		// No renewal, no outcome: the object's alarm notices the lapse, ends the attempt, releases.
		await inTheFuture((LEASE_SECONDS + 1) * SECOND, () => runDurableObjectAlarm(a.stub));
		expect(await record(a)).toMatchObject({ status: "retrying", error: { name: "LeaseExpiredError" } });
		// b got the permit; the limiter's wake is due at that (moved) time: deliver it.
		expect((await typeLimiterStub(env, type).describe()).usage).toMatchObject({ running: 1, waiting: 0 });
		await inTheFuture((LEASE_SECONDS + 2) * SECOND, () => runDurableObjectAlarm(typeLimiterStub(env, type)));
		await startedAt(b);
	});

	it("never reclaims a permit while its attempt's lease is live; reclaims it once the task says the lease lapsed", async () => {
		const { type, limits, first: a, second: b } = await twoTasksOneAtATime();
		const started = await run(a, limits);
		expect(await b.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		const limiter = typeLimiterStub(env, type);
		// The consumer renews a's lease (to 80 s); the limiter asks a at 61 s and keeps its permit.
		expect(await inTheFuture(25 * SECOND, () => a.stub.renew(started.attempt))).toBe(true);
		expect(await inTheFuture(50 * SECOND, () => a.stub.renew(started.attempt))).toBe(true);
		await inTheFuture(CHECK_AFTER_MS + SECOND, () => runDurableObjectAlarm(limiter));
		expect((await limiter.describe()).usage).toMatchObject({ running: 1, waiting: 1 });
		expect(await record(b)).toMatchObject({ status: "queued", waitingFor: "concurrency" });
		expect(await record(a)).toMatchObject({ status: "running" });
		// The renewals stopped: asked after the lease's end, a's object ends the attempt; b gets the permit.
		await inTheFuture(120 * SECOND, () => runDurableObjectAlarm(limiter));
		expect(await record(a)).toMatchObject({ status: "retrying", error: { name: "LeaseExpiredError" } });
		// The wake is due at the (moved) time of the reservation: deliver it.
		await inTheFuture(121 * SECOND, () => runDurableObjectAlarm(limiter));
		await startedAt(b);
	});

	it("reclaims a permit whose holder never recorded it (a crash right after the grant), after asking the task", async () => {
		const { type, limits, first: x, second: y } = await twoTasksOneAtATime();
		const limiter = typeLimiterStub(env, type);
		const granted = await limiter.acquire({
			limiter: { scope: "type", type },
			limits: { concurrency: 1, rateLimit: null },
			version: 0,
			taskId: x.id,
			attempt: 1,
			priority: 5,
			since: Date.now(),
		});
		expect(granted).toMatchObject({ kind: "granted", holds: true });
		expect(await y.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		// Not asked before CHECK_AFTER_MS: the permit stays.
		await inTheFuture(CHECK_AFTER_MS - SECOND, () => runDurableObjectAlarm(limiter));
		expect((await limiter.describe()).usage).toMatchObject({ running: 1, waiting: 1 });
		// Then x's object answers that it holds nothing: the permit goes to y.
		await inTheFuture(CHECK_AFTER_MS + SECOND, () => runDurableObjectAlarm(limiter));
		await inTheFuture(CHECK_AFTER_MS + 2 * SECOND, () => runDurableObjectAlarm(limiter));
		await startedAt(y);
	});
});

describe("limiter: priorities", () => {
	it("admits higher priorities first, equal priorities first come first served", async () => {
		const type = uniqueType();
		const limits = concurrency(1);
		const holder = await task(type);
		const held = await run(holder, limits);
		const low = await task(type, { priority: 0 });
		const high = await task(type, { priority: 9 });
		const normalFirst = await task(type);
		const normalSecond = await task(type);
		for (const t of [low, high, normalFirst, normalSecond])
			expect(await t.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		await holder.stub.finish(held.attempt, { ok: true, resultJson: "1" });
		const order = await Promise.all([high, normalFirst, normalSecond, low].map((t) => startedAt(t, 20_000)));
		expect([...order].sort((p, q) => p - q)).toEqual(order);
	});

	it("never lets a task starve: a task that waited 30 s per priority level longer goes first", async () => {
		const type = uniqueType();
		const limits = concurrency(1);
		const holder = await task(type);
		const held = await run(holder, limits);
		// `low` waits from now; `high` (9 levels up) from 271 s later: worth 270 s, so `low` goes first.
		const low = await task(type, { priority: 0 });
		const high = await task(type, { priority: 9 });
		expect(await low.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		expect(await inTheFuture<unknown>(9 * PRIORITY_STEP_MS + SECOND, () => high.stub.start({ limits }))).toEqual({
			kind: "skip",
			reason: "waiting",
		});
		// A priority-9 task that came 269 s later still goes ahead of a priority-0 one.
		const type2 = uniqueType();
		const holder2 = await task(type2);
		const held2 = await run(holder2, limits);
		const low2 = await task(type2, { priority: 0 });
		const high2 = await task(type2, { priority: 9 });
		expect(await low2.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		expect(await inTheFuture<unknown>(9 * PRIORITY_STEP_MS - SECOND, () => high2.stub.start({ limits }))).toEqual({
			kind: "skip",
			reason: "waiting",
		});

		await holder.stub.finish(held.attempt, { ok: true, resultJson: "1" });
		await holder2.stub.finish(held2.attempt, { ok: true, resultJson: "1" });
		expect(await startedAt(low, 20_000)).toBeLessThan(await startedAt(high, 20_000));
		expect(await startedAt(high2, 20_000)).toBeLessThan(await startedAt(low2, 20_000));
	});
});

describe("limiter: keys", () => {
	it("limits each concurrencyKey on its own: one key's line does not hold up another key", async () => {
		const type = uniqueType();
		const limits: AttemptLimits = { version: 0, type: null, key: { concurrency: 1, rateLimit: null } };
		const [a1, a2, b1] = await Promise.all([
			task(type, { concurrencyKey: "tenant-a" }),
			task(type, { concurrencyKey: "tenant-a" }),
			task(type, { concurrencyKey: "tenant-b" }),
		]);
		if (!a1 || !a2 || !b1) throw new Error("three tasks");
		await run(a1, limits);
		expect(await a2.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		expect(await record(a2)).toMatchObject({ status: "queued", waitingFor: "key-concurrency", concurrencyKey: "tenant-a" });
		await run(b1, limits);
		const keyA = limiterStub(env, limiterName({ scope: "key", type, key: "tenant-a" }));
		const keyB = limiterStub(env, limiterName({ scope: "key", type, key: "tenant-b" }));
		expect((await keyA.describe()).usage).toMatchObject({ running: 1, waiting: 1 });
		expect((await keyB.describe()).usage).toMatchObject({ running: 1, waiting: 0 });
		// The type's limiter lists the keys' usage as they report it (within ~2 s).
		const keys = await vi.waitUntil(
			async () => {
				const described = await typeLimiterStub(env, type).describe();
				return described.keys.active === 2 && described.keys.waiting === 1 ? described.keys : false;
			},
			{ timeout: 10_000, interval: 100 },
		);
		expect(keys).toMatchObject({ running: 2, waiting: 1 });
		expect(keys.busiest[0]).toEqual({ key: "tenant-a", running: 1, waiting: 1 });
		// A task without a key is not limited by key limits.
		await run(await task(type), limits);
	});

	it("takes the key's permit first, then the type's: a task waiting for its type holds its key's permit", async () => {
		const type = uniqueType();
		const limits: AttemptLimits = { version: 0, type: { concurrency: 1, rateLimit: null }, key: { concurrency: 2, rateLimit: null } };
		const [a, b] = await Promise.all([task(type, { concurrencyKey: "k" }), task(type, { concurrencyKey: "k" })]);
		if (!a || !b) throw new Error("two tasks");
		const started = await run(a, limits);
		expect(await b.stub.start({ limits })).toEqual({ kind: "skip", reason: "waiting" });
		expect(await record(b)).toMatchObject({ waitingFor: "concurrency" });
		const key = limiterStub(env, limiterName({ scope: "key", type, key: "k" }));
		expect((await key.describe()).usage).toMatchObject({ running: 2, waiting: 0 });
		await a.stub.finish(started.attempt, { ok: true, resultJson: "1" });
		await startedAt(b);
	});
});

describe("limiter: rate", () => {
	it("spaces starts one period/limit (+1 ms) apart, each attempt starting at its granted time; the rest wait", async () => {
		const type = uniqueType();
		const rate = { limit: 5, periodSeconds: 1 };
		const limits: AttemptLimits = { version: 0, type: { concurrency: null, rateLimit: rate }, key: null };
		const tasks = await Promise.all(Array.from({ length: 12 }, () => task(type)));
		const starts: number[] = [];
		const waiting: Task[] = [];
		for (const t of tasks) {
			const asked = Date.now();
			const start = await t.stub.start({ limits });
			if (start.kind === "run") {
				const at = Date.parse((await record(t)).attemptHistory[0]?.startedAt ?? "");
				expect(start.startAt ?? at).toBe(at);
				// At most the look-ahead after it asked.
				expect(at).toBeLessThanOrEqual(asked + LOOKAHEAD_MS + 50);
				starts.push(at);
			} else {
				expect(start).toEqual({ kind: "skip", reason: "waiting" });
				waiting.push(t);
			}
		}
		// Within the look-ahead: at least 5 start times, 201 ms apart (more if asking took time); not all 12.
		expect(starts.length).toBeGreaterThanOrEqual(Math.floor(LOOKAHEAD_MS / startInterval(rate)) + 1);
		expect(waiting.length).toBeGreaterThan(0);
		for (let i = 1; i < starts.length; i++) expect((starts[i] ?? 0) - (starts[i - 1] ?? 0)).toBeGreaterThanOrEqual(startInterval(rate));
		// The last in line waits for the rate (the first ones may be admitted already).
		const last = waiting.at(-1);
		if (!last) throw new Error("a waiting task");
		expect(await record(last)).toMatchObject({ status: "queued", waitingFor: "rate" });
		// They are admitted as the rate allows, without anything polling.
		for (const t of waiting) await startedAt(t);
	});
});
