// Flow control through the API and the consumer: GET/PUT/DELETE /v1/limits (closed by the token,
// validated against hostile input, overrides applied to waiting tasks at once), priority and
// concurrencyKey on submit, limits in GET /v1/task-types, a limited type run by the real consumer,
// and a type without limits costing no limiter call.
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createSessionValue, SESSION_COOKIE } from "../src/dashboard/session";
import type { LimiterObject } from "../src/durable/limiter-object";
import { limiterName, limiterStub, typeLimiterStub } from "../src/durable/limiter-stub";
import { LimitInfo, LimitList } from "../src/limit-schemas";
import { handleBatch } from "../src/queue/consumer";
import { type TaskRecord, TaskRecordList, TaskTypeList } from "../src/schemas";
import { api, createTask, expectProblem, getTask, queueMessage, readRecord, submit, taskTypes, TOKEN, waitForTerminal } from "./helpers";

/** Every `/v1/limits` test that sets an override removes it again. */
afterEach(async () => {
	for (const type of ["limited-concurrency", "limited-key"]) await api(`/v1/limits/${type}`, { method: "DELETE" });
});

async function limitsOf(type: string): Promise<LimitInfo> {
	const response = await api("/v1/limits");
	expect(response.status).toBe(200);
	const info = LimitList.parse(await response.json()).limits.find((entry) => entry.type === type);
	if (!info) throw new Error(`no ${type} in GET /v1/limits`);
	return info;
}

/** Attempt intervals [start, finish) of the tasks; the most that overlap at any moment. */
function mostAtOnce(records: TaskRecord[]): number {
	const edges = records.flatMap((r) =>
		r.attemptHistory.flatMap((a) =>
			a.finishedAt
				? [
						{ at: Date.parse(a.startedAt), d: 1 },
						{ at: Date.parse(a.finishedAt), d: -1 },
					]
				: [],
		),
	);
	// Ends before starts at the same millisecond: [start, finish) intervals that touch do not overlap.
	edges.sort((p, q) => p.at - q.at || p.d - q.d);
	let now = 0;
	let most = 0;
	for (const edge of edges) {
		now += edge.d;
		most = Math.max(most, now);
	}
	return most;
}

describe("GET /v1/limits", () => {
	it("lists every type with the code's limits, the override, the limits in effect and usage", async () => {
		const response = await api("/v1/limits");
		expect(response.status).toBe(200);
		const { limits } = LimitList.parse(await response.json());
		expect(limits.map((entry) => entry.type)).toEqual(
			expect.arrayContaining(["echo", "limited-concurrency", "limited-rate", "limited-key"]),
		);
		expect(limits.find((entry) => entry.type === "echo")).toMatchObject({
			limits: { concurrency: null, rateLimit: null, keyConcurrency: null, keyRateLimit: null },
			override: null,
			usage: { running: 0, waiting: 0, nextStartAt: null },
			keys: { active: 0, running: 0, waiting: 0, busiest: [] },
		});
		expect(await limitsOf("limited-rate")).toMatchObject({ code: { rateLimit: { limit: 5, periodSeconds: 1 } }, override: null });
	});

	it("is closed without the token", async () => {
		await expectProblem(await api("/v1/limits", { token: null }), 401);
		await expectProblem(await api("/v1/limits/echo", { method: "PUT", json: { concurrency: 1 }, token: "wrong" }), 401);
		await expectProblem(await api("/v1/limits/echo", { method: "DELETE", token: null }), 401);
	});

	it("GET /v1/task-types shows each type's limits as declared in code", async () => {
		const { types } = TaskTypeList.parse(await (await api("/v1/task-types")).json());
		expect(types.find((t) => t.type === "limited-concurrency")?.limits).toEqual({
			concurrency: 3,
			rateLimit: null,
			keyConcurrency: null,
			keyRateLimit: null,
		});
		expect(types.find((t) => t.type === "limited-key")?.limits).toMatchObject({ keyConcurrency: 2 });
		expect(types.find((t) => t.type === "echo")?.limits).toEqual({
			concurrency: null,
			rateLimit: null,
			keyConcurrency: null,
			keyRateLimit: null,
		});
	});
});

describe("PUT and DELETE /v1/limits/{type}", () => {
	it("overrides field by field (null removes a limit), is kept, and DELETE returns to the code's limits", async () => {
		const response = await api("/v1/limits/limited-concurrency", {
			method: "PUT",
			json: { concurrency: 7, keyRateLimit: { limit: 2, periodSeconds: 60 } },
		});
		expect(response.status).toBe(200);
		const info = LimitInfo.parse(await response.json());
		expect(info).toMatchObject({
			type: "limited-concurrency",
			code: { concurrency: 3, keyRateLimit: null },
			override: { concurrency: 7, keyRateLimit: { limit: 2, periodSeconds: 60 } },
			limits: { concurrency: 7, rateLimit: null, keyConcurrency: null, keyRateLimit: { limit: 2, periodSeconds: 60 } },
		});
		// Persisted (in the type's limiter), not only remembered by this isolate.
		expect((await typeLimiterStub(env, "limited-concurrency").readOverride()).override).toEqual(info.override);
		expect((await limitsOf("limited-concurrency")).limits.concurrency).toBe(7);
		// A PUT replaces the whole override; null removes the code's limit.
		await api("/v1/limits/limited-concurrency", { method: "PUT", json: { concurrency: null } });
		expect((await limitsOf("limited-concurrency")).limits).toEqual({
			concurrency: null,
			rateLimit: null,
			keyConcurrency: null,
			keyRateLimit: null,
		});
		const deleted = await api("/v1/limits/limited-concurrency", { method: "DELETE" });
		expect(deleted.status).toBe(204);
		expect(await limitsOf("limited-concurrency")).toMatchObject({ override: null, limits: { concurrency: 3 } });
	});

	it("answers 404 for a type that does not exist", async () => {
		const problem = await expectProblem(await api("/v1/limits/no-such-type", { method: "PUT", json: { concurrency: 1 } }), 404);
		expect(problem.detail).toContain("limited-concurrency");
		await expectProblem(await api("/v1/limits/no-such-type", { method: "DELETE" }), 404);
		await expectProblem(await api(`/v1/limits/${"x".repeat(5000)}`, { method: "DELETE" }), 404);
		await expectProblem(await api("/v1/limits/%00%ff", { method: "PUT", json: { concurrency: 1 } }), 404);
		await expectProblem(await api("/v1/limits/__proto__", { method: "PUT", json: { concurrency: 1 } }), 404);
	});

	it.each([
		["an empty override", {}, ""],
		["concurrency 0", { concurrency: 0 }, "concurrency"],
		["a fractional concurrency", { concurrency: 1.5 }, "concurrency"],
		["a concurrency as a string", { concurrency: "3" }, "concurrency"],
		["a huge concurrency", { concurrency: 1e300 }, "concurrency"],
		["a negative keyConcurrency", { keyConcurrency: -1 }, "keyConcurrency"],
		["a rate limit without a period", { rateLimit: { limit: 5 } }, "rateLimit.periodSeconds"],
		["a zero period", { rateLimit: { limit: 5, periodSeconds: 0 } }, "rateLimit.periodSeconds"],
		["a period over a day", { keyRateLimit: { limit: 5, periodSeconds: 86_401 } }, "keyRateLimit.periodSeconds"],
		["a rate limit with an unknown field", { rateLimit: { limit: 5, periodSeconds: 1, burst: 10 } }, "rateLimit.burst"],
		["a rate limit that is an array", { rateLimit: [5, 1] }, "rateLimit"],
		["an unknown field", { concurrency: 1, maxRunning: 2 }, "maxRunning"],
		["a __proto__ field", JSON.parse('{"__proto__": {"concurrency": 1}}'), ""],
		["an array body", [{ concurrency: 1 }], ""],
		["a null body", null, ""],
		["a deeply nested body", JSON.parse(`${"[".repeat(2000)}${"]".repeat(2000)}`), ""],
	])("answers 422 for %s, and changes nothing", async (_, body, path) => {
		const problem = await expectProblem(await api("/v1/limits/limited-concurrency", { method: "PUT", json: body }), 422);
		expect(problem.errors?.map((error) => error.path)).toContain(path);
		expect((await limitsOf("limited-concurrency")).override).toBeNull();
	});

	it("answers 400, 413 and 415 for bodies that are not JSON, too large, or of another type", async () => {
		const put = (body: string, contentType = "application/json") =>
			api("/v1/limits/limited-concurrency", { method: "PUT", body, headers: { "Content-Type": contentType } });
		await expectProblem(await put("{"), 400);
		await expectProblem(await put(JSON.stringify({ concurrency: 1, pad: "x".repeat(1024 * 1024) })), 413);
		await expectProblem(await put("concurrency=1", "application/x-www-form-urlencoded"), 415);
		await expectProblem(await api("/v1/limits/limited-concurrency", { method: "POST", json: { concurrency: 1 } }), 405);
		expect((await limitsOf("limited-concurrency")).override).toBeNull();
	});

	it("applies a raised limit to the tasks already waiting, at once", async () => {
		const key = `raise-${crypto.randomUUID()}`;
		// keyConcurrency 2: two run (10 s each), the third waits for its key. (One batch: the local
		// queue delivers the next batch only when this one's attempts are done.)
		const response = await api("/v1/tasks/batch", {
			json: { tasks: Array.from({ length: 3 }, () => ({ type: "limited-key", payload: { ms: 10_000 }, concurrencyKey: key })) },
		});
		expect(response.status).toBe(202);
		const records = TaskRecordList.parse(await response.json()).tasks;
		const waiting = await vi.waitUntil(
			async () => {
				const all = await Promise.all(records.map((r) => getTask(r.id)));
				return all.filter((r) => r.status === "running").length === 2 ? all.find((r) => r.status === "queued") : false;
			},
			{ timeout: 10_000, interval: 50 },
		);
		if (!waiting) throw new Error("a waiting task");
		expect(waiting.waitingFor).toBe("key-concurrency");
		// The dashboard's task page says what it waits for, and for which key.
		const page = await exports.default.fetch(
			new Request(`https://taskflare.test/dashboard/tasks/${waiting.id}`, {
				headers: { Cookie: `${SESSION_COOKIE}=${await createSessionValue(TOKEN)}` },
			}),
		);
		const html = await page.text();
		expect(html).toContain('data-waiting-for="key-concurrency"');
		expect(html).toContain(`<dd class="mono">${key}</dd>`);
		const keyLimiter = limiterStub(env, limiterName({ scope: "key", type: "limited-key", key }));
		expect((await keyLimiter.describe()).usage).toMatchObject({ running: 2, waiting: 1 });
		// The key's limiter has told the type's limiter that it is in use (so the override reaches it).
		await vi.waitUntil(async () => (await limitsOf("limited-key")).keys.busiest.some((k) => k.key === key), {
			timeout: 10_000,
			interval: 50,
		});
		expect((await api("/v1/limits/limited-key", { method: "PUT", json: { keyConcurrency: 3 } })).status).toBe(200);
		// Admitted at once: it holds a permit and has sent itself to the queue (which runs it when
		// the local queue delivers its next batch, after the two running attempts).
		expect((await keyLimiter.describe()).usage).toMatchObject({ running: 3, waiting: 0 });
		await vi.waitUntil(async () => (await getTask(waiting.id)).waitingFor === undefined, { timeout: 5000, interval: 50 });
		for (const r of records) await api(`/v1/tasks/${r.id}/cancel`, { method: "POST" });
	});
});

describe("priority and concurrencyKey on submit", () => {
	it("are shown in the record (the default priority is not stored)", async () => {
		const record = await submit({ type: "echo", payload: {}, priority: 9, concurrencyKey: "customer:42" });
		expect(record).toMatchObject({ priority: 9, concurrencyKey: "customer:42" });
		expect(record.waitingFor).toBeUndefined();
		expect((await submit({ type: "echo", priority: 5 })).priority).toBeUndefined();
		// Without a limit they change nothing: the task runs as any other.
		expect(await waitForTerminal(record.id)).toMatchObject({ status: "succeeded", priority: 9, concurrencyKey: "customer:42" });
	});

	it.each([
		["a priority above 9", { priority: 10 }, "priority"],
		["a negative priority", { priority: -1 }, "priority"],
		["a fractional priority", { priority: 4.5 }, "priority"],
		["a priority as a string", { priority: "9" }, "priority"],
		["an empty concurrencyKey", { concurrencyKey: "" }, "concurrencyKey"],
		["a concurrencyKey of 129 characters", { concurrencyKey: "k".repeat(129) }, "concurrencyKey"],
		["a concurrencyKey with a space", { concurrencyKey: "customer 42" }, "concurrencyKey"],
		["a concurrencyKey with a control character", { concurrencyKey: "a\u0000b" }, "concurrencyKey"],
		["a concurrencyKey that is not a string", { concurrencyKey: 42 }, "concurrencyKey"],
	])("answers 422 for %s (also in a batch)", async (_, fields, path) => {
		const problem = await expectProblem(await api("/v1/tasks", { json: { type: "echo", ...fields } }), 422);
		expect(problem.errors?.map((error) => error.path)).toContain(path);
		const batch = await expectProblem(
			await api("/v1/tasks/batch", { json: { tasks: [{ type: "echo" }, { type: "echo", ...fields }] } }),
			422,
		);
		expect(batch.errors?.map((error) => error.path)).toContain(`tasks.1.${path}`);
	});

	it("are part of an Idempotency-Key's request: the same key with another priority or key is a 422", async () => {
		const key = `flow-${crypto.randomUUID()}`;
		const first = await api("/v1/tasks", { json: { type: "echo", priority: 2 }, headers: { "Idempotency-Key": key } });
		expect(first.status).toBe(202);
		await expectProblem(await api("/v1/tasks", { json: { type: "echo", priority: 3 }, headers: { "Idempotency-Key": key } }), 422);
		await expectProblem(
			await api("/v1/tasks", { json: { type: "echo", priority: 2, concurrencyKey: "k" }, headers: { "Idempotency-Key": key } }),
			422,
		);
		expect((await api("/v1/tasks", { json: { type: "echo", priority: 2 }, headers: { "Idempotency-Key": key } })).status).toBe(200);
	});
});

describe("limited types through the consumer", () => {
	it("runs a key's tasks at most keyConcurrency (2) at once, all to the end", async () => {
		const key = `consumer-${crypto.randomUUID()}`;
		const submitted = [];
		for (let i = 0; i < 6; i++) submitted.push(await submit({ type: "limited-key", payload: { ms: 300 }, concurrencyKey: key }));
		const records = await Promise.all(submitted.map((r) => waitForTerminal(r.id, 30_000)));
		expect(records.map((r) => r.status)).toEqual(Array.from({ length: 6 }, () => "succeeded"));
		expect(records.every((r) => r.attempts === 1)).toBe(true);
		expect(mostAtOnce(records)).toBe(2);
	});
});

/** `env` whose limiter namespace counts the stubs asked of it (every limiter call starts there). */
function countingLimiters() {
	let calls = 0;
	const namespace = new Proxy(env.LIMITER_OBJECT, {
		get: (target, prop) => {
			const value: unknown = Reflect.get(target, prop);
			if (typeof value !== "function") return value;
			return (...args: unknown[]): unknown => {
				calls += 1;
				const result: unknown = Reflect.apply(value, target, args);
				return result;
			};
		},
	});
	return { env: { ...env, LIMITER_OBJECT: namespace } satisfies Env, calls: () => calls };
}

/** Whether a limiter object was ever asked for a permit (its tables exist only then). */
function everAcquired(stub: DurableObjectStub<LimiterObject>): Promise<boolean> {
	return runInDurableObject(
		stub,
		(_: LimiterObject, state) => state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'permits'").toArray().length > 0,
	);
}

describe("a type without limits", () => {
	it("costs no limiter call: the consumer reads the type's override at most once per isolate, its tasks never ask a limiter", async () => {
		const key = `unlimited-${crypto.randomUUID()}`;
		// One env (one limiter namespace) for both batches, as a Worker has.
		const counting = countingLimiters();
		const run = async (n: number) => {
			const before = counting.calls();
			const tasks = await Promise.all(Array.from({ length: n }, () => createTask("echo", { n: 1 })));
			const batch = createMessageBatch(
				"taskflare-tasks",
				tasks.map((t) => queueMessage({ id: t.id, type: "echo" })),
			);
			await handleBatch(batch, counting.env, { taskTypes });
			const result = await getQueueResult(batch, createExecutionContext());
			expect(result.explicitAcks).toHaveLength(n);
			for (const t of tasks) expect(await readRecord(t.stub)).toMatchObject({ status: "succeeded" });
			return counting.calls() - before;
		};
		// The isolate has not read echo's override for this namespace yet: that one read.
		expect(await run(5)).toBe(1);
		// Then nothing at all, however many tasks.
		expect(await run(30)).toBe(0);
		// A limiter that cannot be reached (here: every call fails) does not stop a type without limits.
		const unreachable = new Proxy(env.LIMITER_OBJECT, {
			get: (target, prop): unknown =>
				prop === "getByName"
					? () => ({ readOverride: () => Promise.reject(new Error("injected: unreachable")) })
					: Reflect.get(target, prop),
		});
		const tasks = await Promise.all(Array.from({ length: 3 }, () => createTask("echo", { n: 2 })));
		const batch = createMessageBatch(
			"taskflare-tasks",
			tasks.map((t) => queueMessage({ id: t.id, type: "echo" })),
		);
		await handleBatch(batch, { ...env, LIMITER_OBJECT: unreachable } satisfies Env, { taskTypes });
		expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(3);
		for (const t of tasks) expect(await readRecord(t.stub)).toMatchObject({ status: "succeeded" });
		// And a task with a concurrencyKey and a priority (which mean nothing without limits) asks no limiter either.
		const record = await submit({ type: "echo", concurrencyKey: key, priority: 9 });
		expect(await waitForTerminal(record.id)).toMatchObject({ status: "succeeded" });
		expect(await everAcquired(typeLimiterStub(env, "echo"))).toBe(false);
		expect(await everAcquired(limiterStub(env, limiterName({ scope: "key", type: "echo", key })))).toBe(false);
	});
});
