// Schedules inside workerd: fire times (cron, interval, time zones, DST), the alarm that fires them,
// pause and resume, catch-up after an outage, overlap, end dates, and one task per fire time under
// re-delivered alarms, crashes between submit and bookkeeping, and racing triggers.
//
// Time: a fake Date (`vi.setSystemTime`, shared by the test, the Worker and its objects) moves the
// clock past fire times; alarms are run by hand with runDurableObjectAlarm. A crash between a
// fire's submit and its bookkeeping is simulated by restoring the object's stored state.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { idempotencyKeyStub } from "../src/durable/idempotency-key-stub";
import { fireKey } from "../src/durable/schedule-object";
import { scheduleDirectoryStub } from "../src/durable/schedule-directory-stub";
import { getScheduleStub } from "../src/durable/schedule-stub";
import { ScheduleDetail, ScheduleList } from "../src/schedule-schemas";
import { TaskPage, TaskRecord } from "../src/schemas";
import { api, expectProblem, getTask, waitForTerminal } from "./helpers";

const uid = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
const ms = (iso: string) => Date.parse(iso);

async function put(id: string, body: unknown, status = 201): Promise<ScheduleDetail> {
	const response = await api(`/v1/schedules/${id}`, { method: "PUT", json: body });
	expect(response.status, await response.clone().text()).toBe(status);
	return ScheduleDetail.parse(await response.json());
}

async function getSchedule(id: string): Promise<ScheduleDetail> {
	const response = await api(`/v1/schedules/${id}`);
	expect(response.status, await response.clone().text()).toBe(200);
	return ScheduleDetail.parse(await response.json());
}

async function patch(id: string, body: unknown): Promise<ScheduleDetail> {
	const response = await api(`/v1/schedules/${id}`, { method: "PATCH", json: body });
	expect(response.status, await response.clone().text()).toBe(200);
	return ScheduleDetail.parse(await response.json());
}

async function trigger(id: string): Promise<{ status: number; record: TaskRecord }> {
	const response = await api(`/v1/schedules/${id}/trigger`, { method: "POST" });
	expect([200, 202], await response.clone().text()).toContain(response.status);
	return { status: response.status, record: TaskRecord.parse(await response.json()) };
}

/**
 * Moves the clock `byMs` forward (a fake Date, shared by the test, the Worker and its objects)
 * without running any alarm: to the schedule, an outage of that length. Alarms are then run by
 * hand (`fireAlarm`). Fake times are always ahead of the real clock, so no real alarm is overdue.
 */
function advance(byMs: number): void {
	const now = Date.now();
	vi.useFakeTimers({ toFake: ["Date"] });
	vi.setSystemTime(now + byMs);
}

/** Sets the fake clock to `iso` (a time after the real clock: see advance). */
function at(iso: string): void {
	vi.useFakeTimers({ toFake: ["Date"] });
	vi.setSystemTime(new Date(iso));
}

/** The whole stored state of the schedule's object (to restore it: a crash before bookkeeping). */
async function snapshot(id: string): Promise<unknown> {
	return runInDurableObject(getScheduleStub(env, id), (_instance, state) => state.storage.kv.get("schedule"));
}

async function restore(id: string, saved: unknown, alarmAt: number): Promise<void> {
	const stub = getScheduleStub(env, id);
	await runInDurableObject(stub, async (_instance, state) => {
		state.storage.kv.put("schedule", saved);
		await state.storage.setAlarm(alarmAt);
	});
	await evictDurableObject(stub);
}

const alarmOf = (id: string) => runInDurableObject(getScheduleStub(env, id), (_instance, state) => state.storage.getAlarm());
const fireAlarm = (id: string) => runDurableObjectAlarm(getScheduleStub(env, id));
const KeyRecord = z.object({ tasks: z.array(z.object({ id: z.string() })) });
/**
 * The task ids that the fire's Idempotency-Key record names: every submit for this fire time reaches
 * that record, so one id here means one task for the fire time, however often it was submitted.
 */
const taskIdsFor = (id: string, at: number) =>
	runInDurableObject(idempotencyKeyStub(env, fireKey(id, at)), (_instance, state) =>
		KeyRecord.parse(state.storage.kv.get("key")).tasks.map((task) => task.id),
	);

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Every task carrying the schedule's tag, by the task index (GET /v1/tasks?tag=schedule:<id>). */
async function tasksOf(id: string): Promise<string[]> {
	const response = await api(`/v1/tasks?tag=${encodeURIComponent(`schedule:${id}`)}&limit=200`);
	expect(response.status, await response.clone().text()).toBe(200);
	return TaskPage.parse(await response.json())
		.tasks.map((task) => task.id)
		.sort(byText);
}

afterEach(() => {
	vi.useRealTimers();
});

describe("creating and reading schedules", () => {
	it("POST creates an interval schedule: 201, Location, the next 5 fire times every N seconds", async () => {
		const before = Date.now();
		const response = await api("/v1/schedules", { json: { every: 90, task: { type: "echo", payload: { n: 1 } } } });
		expect(response.status, await response.clone().text()).toBe(201);
		const created = ScheduleDetail.parse(await response.json());
		expect(response.headers.get("Location")).toBe(`/v1/schedules/${created.id}`);
		expect(created).toMatchObject({
			every: 90,
			task: { type: "echo", payload: { n: 1 } },
			paused: false,
			overlap: "allow",
			catchUp: "latest",
			state: "active",
			runs: [],
			counts: { submitted: 0, skipped: 0, missed: 0 },
		});
		const fires = created.nextFires.map(ms);
		expect(fires).toHaveLength(5);
		expect(fires[0]).toBeGreaterThan(before);
		expect(fires[0]).toBeLessThanOrEqual(Date.now() + 90_000);
		for (let i = 1; i < 5; i++) expect((fires[i] ?? 0) - (fires[i - 1] ?? 0)).toBe(90_000);
		expect(await alarmOf(created.id)).toBe(fires[0]);
		expect(await getSchedule(created.id)).toEqual(created);
	});

	it("PUT creates with the client's id, a repeat changes nothing, another body replaces", async () => {
		const id = uid("put");
		const body = { every: 60, task: { type: "echo" } };
		const created = await put(id, body, 201);
		const again = await put(id, body, 200);
		expect(again).toEqual(created);
		const replaced = await put(id, { cron: "0 9 * * *", timezone: "Europe/Berlin", task: { type: "echo" } }, 200);
		expect(replaced).toMatchObject({ id, cron: "0 9 * * *", timezone: "Europe/Berlin", createdAt: created.createdAt });
		expect(replaced.every).toBeUndefined();
	});

	it("starts an interval at startAt and stops before endAt", async () => {
		const startAt = Math.ceil(Date.now() / 1000) * 1000 + 3_600_000;
		const created = await put(uid("window"), {
			every: 600,
			startAt: new Date(startAt).toISOString(),
			endAt: new Date(startAt + 1_500_000).toISOString(),
			task: { type: "echo" },
		});
		expect(created.nextFires.map(ms)).toEqual([startAt, startAt + 600_000, startAt + 1_200_000]);
	});

	it("answers 422 with paths for a bad cron, time zone, cadence, window, task or id", async () => {
		const cases: [unknown, string][] = [
			[{ cron: "61 * * * *", task: { type: "echo" } }, "cron"],
			[{ cron: "* * * *", task: { type: "echo" } }, "cron"],
			[{ cron: "* * * * * * *", task: { type: "echo" } }, "cron"],
			[{ cron: "0 0 30 2 *", task: { type: "echo" } }, "cron"],
			[{ cron: "0 9 * * *", timezone: "Mars/Olympus", task: { type: "echo" } }, "timezone"],
			[{ every: 60, timezone: "UTC", task: { type: "echo" } }, "timezone"],
			[{ every: 60, cron: "* * * * *", task: { type: "echo" } }, "cron"],
			[{ task: { type: "echo" } }, "cron"],
			[{ every: 0, task: { type: "echo" } }, "every"],
			[{ every: 1.5, task: { type: "echo" } }, "every"],
			[{ every: 60, task: { type: "sleep", payload: { ms: -1 } } }, "task.payload.ms"],
			[{ every: 60, task: { type: "nope" } }, "task.type"],
			[{ every: 60, task: { type: "echo", tags: Array.from({ length: 10 }, (_, i) => `t${i}`) } }, "task.tags"],
			[{ every: 60, task: { type: "echo", payload: { big: "x".repeat(70_000) } } }, "task.payload"],
			// 30,000 characters, but 90,000 bytes of UTF-8: the limit counts bytes.
			[{ every: 60, task: { type: "echo", payload: { big: "€".repeat(30_000) } } }, "task.payload"],
			[{ every: 60, startAt: "2030-01-02T00:00:00Z", endAt: "2030-01-01T00:00:00Z", task: { type: "echo" } }, "endAt"],
			[{ every: 60, overlap: "queue", task: { type: "echo" } }, "overlap"],
			[{ every: 60, task: { type: "echo" }, priority: 1 }, "priority"],
			[{ every: 60, task: { type: "echo", priority: 10 } }, "task.priority"],
			[{ every: 60, task: { type: "echo", priority: 4.5 } }, "task.priority"],
			[{ every: 60, task: { type: "echo", concurrencyKey: "" } }, "task.concurrencyKey"],
			[{ every: 60, task: { type: "echo", concurrencyKey: "k".repeat(129) } }, "task.concurrencyKey"],
		];
		for (const [body, path] of cases) {
			const problem = await expectProblem(await api(`/v1/schedules/${uid("bad")}`, { method: "PUT", json: body }), 422);
			expect(
				problem.errors?.map((e) => e.path),
				JSON.stringify(body).slice(0, 200),
			).toContain(path);
		}
		const badId = await expectProblem(
			await api(`/v1/schedules/${"x".repeat(56)}`, { method: "PUT", json: { every: 1, task: { type: "echo" } } }),
			422,
		);
		expect(badId.errors?.[0]?.path).toBe("id");
		await expectProblem(await api("/v1/schedules/..%2Fetc", { method: "PUT", json: { every: 1, task: { type: "echo" } } }), 422);
		// Nothing was stored for any of them.
		await expectProblem(await api(`/v1/schedules/${"x".repeat(56)}`), 404);
	});

	it("GET, PATCH, DELETE and trigger of an unknown or malformed id are 404s", async () => {
		for (const id of [uid("missing"), "no%20such", "x".repeat(80)]) {
			await expectProblem(await api(`/v1/schedules/${id}`), 404);
			await expectProblem(await api(`/v1/schedules/${id}`, { method: "PATCH", json: { paused: true } }), 404);
			await expectProblem(await api(`/v1/schedules/${id}`, { method: "DELETE" }), 404);
			await expectProblem(await api(`/v1/schedules/${id}/trigger`, { method: "POST" }), 404);
		}
	});

	it("another method on a schedule path is a 405 with Allow", async () => {
		const trigger = await expectProblem(await api(`/v1/schedules/${uid("m")}/trigger`), 405);
		expect(trigger.status).toBe(405);
		expect((await api(`/v1/schedules/${uid("m")}/trigger`)).headers.get("Allow")).toBe("POST");
		const collection = await api("/v1/schedules", { method: "DELETE" });
		expect(collection.status).toBe(405);
		expect(collection.headers.get("Allow")?.split(", ").sort()).toEqual(["GET", "HEAD", "POST"]);
	});

	it("needs the token", async () => {
		await expectProblem(await api("/v1/schedules", { token: null }), 401);
		await expectProblem(await api("/v1/schedules", { token: "wrong", json: { every: 1, task: { type: "echo" } } }), 401);
	});
});

describe("listing", () => {
	it("pages through every schedule by id with a cursor, each once", async () => {
		const prefix = uid("list");
		const ids = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
		for (const id of ids) await put(id, { every: 3600, task: { type: "echo" } });
		const seen: string[] = [];
		let cursor: string | null = null;
		let pages = 0;
		do {
			const query: string = cursor === null ? "?limit=2" : `?limit=2&cursor=${cursor}`;
			const response = await api(`/v1/schedules${query}`);
			expect(response.status).toBe(200);
			const page = ScheduleList.parse(await response.json());
			expect(page.schedules.length).toBeLessThanOrEqual(2);
			seen.push(...page.schedules.map((s) => s.id));
			cursor = page.nextCursor;
			pages++;
		} while (cursor !== null && pages < 1000);
		expect(seen).toEqual([...seen].sort());
		expect(new Set(seen).size).toBe(seen.length);
		expect(seen.filter((id) => id.startsWith(prefix))).toEqual(ids);

		await expectProblem(await api("/v1/schedules?cursor=%%%"), 422);
		await expectProblem(await api("/v1/schedules?limit=0"), 422);
		await expectProblem(await api("/v1/schedules?limit=101"), 422);
	});

	it("refuses a new schedule past the directory's bound (10,000) with a 409; existing ones can still be replaced", async () => {
		const existing = uid("bound");
		await put(existing, { every: 3600, task: { type: "echo" } });
		const directory = scheduleDirectoryStub(env);
		const fill = (sql: string) => runInDurableObject(directory, (_instance, state) => state.storage.sql.exec(sql).rowsWritten);
		// Rows standing in for other schedules, up to the bound.
		await fill(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 10000)
			INSERT OR IGNORE INTO schedules (id, json) SELECT 'zz-filler-' || i, '{}' FROM n`);
		await fill(
			"DELETE FROM schedules WHERE id IN (SELECT id FROM schedules WHERE id LIKE 'zz-filler-%' ORDER BY id DESC LIMIT (SELECT count(*) - 10000 FROM schedules))",
		);
		try {
			const refused = await expectProblem(
				await api(`/v1/schedules/${uid("over")}`, { method: "PUT", json: { every: 60, task: { type: "echo" } } }),
				409,
			);
			expect(refused.detail).toContain("10000");
			await put(existing, { every: 1800, task: { type: "echo" } }, 200);
		} finally {
			await fill("DELETE FROM schedules WHERE id LIKE 'zz-filler-%'");
		}
		await put(uid("after-bound"), { every: 60, task: { type: "echo" } });
	});

	it("DELETE removes the schedule, its alarm and its row; a repeat is a 404", async () => {
		const id = uid("delete");
		await put(id, { every: 60, task: { type: "echo" } });
		const deleted = await api(`/v1/schedules/${id}`, { method: "DELETE" });
		expect(deleted.status).toBe(204);
		await expectProblem(await api(`/v1/schedules/${id}`), 404);
		expect(await alarmOf(id)).toBeNull();
		const page = ScheduleList.parse(await (await api("/v1/schedules?limit=100")).json());
		expect(page.schedules.map((s) => s.id)).not.toContain(id);
		await expectProblem(await api(`/v1/schedules/${id}`, { method: "DELETE" }), 404);
	});
});

describe("cron fire times, time zones and daylight saving", () => {
	it("computes cron times in the schedule's time zone, with seconds when given 6 fields", async () => {
		at("2027-01-15T12:00:00Z");
		const berlin = await put(uid("berlin"), { cron: "0 9 * * 1-5", timezone: "Europe/Berlin", task: { type: "echo" } });
		// 09:00 in Berlin in January is 08:00 UTC; Friday the 15th's has passed: Monday to Friday next week.
		expect(berlin.nextFires).toEqual([
			"2027-01-18T08:00:00.000Z",
			"2027-01-19T08:00:00.000Z",
			"2027-01-20T08:00:00.000Z",
			"2027-01-21T08:00:00.000Z",
			"2027-01-22T08:00:00.000Z",
		]);
		const utc = await put(uid("utc"), { cron: "*/15 * * * * *", task: { type: "echo" } });
		expect(utc.timezone).toBe("UTC");
		expect(utc.nextFires).toEqual([
			"2027-01-15T12:00:15.000Z",
			"2027-01-15T12:00:30.000Z",
			"2027-01-15T12:00:45.000Z",
			"2027-01-15T12:01:00.000Z",
			"2027-01-15T12:01:15.000Z",
		]);
	});

	it("spring forward: a 02:30 fire runs once at 03:00; an every-30-minutes cron skips the missing hour", async () => {
		// New York, 2027-03-14: 02:00 EST jumps to 03:00 EDT.
		at("2027-03-13T12:00:00Z");
		const fixed = await put(uid("spring"), { cron: "30 2 * * *", timezone: "America/New_York", task: { type: "echo" } });
		expect(fixed.nextFires.slice(0, 3)).toEqual([
			"2027-03-14T07:00:00.000Z", // 03:00 EDT: the first valid time after the gap
			"2027-03-15T06:30:00.000Z", // 02:30 EDT
			"2027-03-16T06:30:00.000Z",
		]);
		at("2027-03-14T06:20:00Z"); // 01:20 EST
		const interval = await put(uid("spring-interval"), { cron: "*/30 * * * *", timezone: "America/New_York", task: { type: "echo" } });
		expect(interval.nextFires.slice(0, 3)).toEqual([
			"2027-03-14T06:30:00.000Z", // 01:30 EST
			"2027-03-14T07:00:00.000Z", // 03:00 EDT (02:00 and 02:30 do not exist)
			"2027-03-14T07:30:00.000Z", // 03:30 EDT
		]);
	});

	it("fall back: a 01:30 fire runs once (first occurrence); an every-30-minutes cron runs in both hours", async () => {
		// New York, 2027-11-07: 02:00 EDT falls back to 01:00 EST; 01:00..01:59 happen twice.
		at("2027-11-06T12:00:00Z");
		const fixed = await put(uid("fall"), { cron: "30 1 * * *", timezone: "America/New_York", task: { type: "echo" } });
		expect(fixed.nextFires.slice(0, 2)).toEqual([
			"2027-11-07T05:30:00.000Z", // 01:30 EDT only
			"2027-11-08T06:30:00.000Z", // 01:30 EST the next day
		]);
		at("2027-11-07T04:50:00Z"); // 00:50 EDT
		const interval = await put(uid("fall-interval"), { cron: "*/30 * * * *", timezone: "America/New_York", task: { type: "echo" } });
		expect(interval.nextFires).toEqual([
			"2027-11-07T05:00:00.000Z", // 01:00 EDT
			"2027-11-07T05:30:00.000Z", // 01:30 EDT
			"2027-11-07T06:00:00.000Z", // 01:00 EST
			"2027-11-07T06:30:00.000Z", // 01:30 EST
			"2027-11-07T07:00:00.000Z", // 02:00 EST
		]);
	});

	it("the alarm fires a cron schedule at its time, in its time zone, and arms the next", async () => {
		at("2027-06-01T06:59:00Z");
		const id = uid("cron-fire");
		await put(id, { cron: "0 9 * * *", timezone: "Europe/Berlin", task: { type: "echo", payload: { daily: true } } });
		expect(await alarmOf(id)).toBe(ms("2027-06-01T07:00:00Z")); // 09:00 CEST
		at("2027-06-01T07:00:00.250Z");
		expect(await fireAlarm(id)).toBe(true);
		const after = await getSchedule(id);
		expect(after.runs).toEqual([
			expect.objectContaining({ scheduledFor: "2027-06-01T07:00:00.000Z", trigger: "cadence", outcome: "submitted" }),
		]);
		expect(after.nextFires[0]).toBe("2027-06-02T07:00:00.000Z");
		expect(await alarmOf(id)).toBe(ms("2027-06-02T07:00:00Z"));
		const task = await getTask(after.runs[0]?.taskId ?? "");
		expect(task).toMatchObject({ scheduleId: id, scheduledFor: "2027-06-01T07:00:00.000Z", payload: { daily: true } });
		expect(task.tags).toEqual([`schedule:${id}`]);
	});
});

describe("firing", () => {
	it(
		"each fire submits one task that carries scheduleId, scheduledFor and the schedule tag, and it succeeds",
		{ timeout: 90_000 },
		async () => {
			const id = uid("fire");
			const tags = ["nightly", `schedule:${id}`]; // the schedule's own tag listed too: it appears once
			const created = await put(id, { every: 60, task: { type: "echo", payload: { from: "schedule" }, tags, maxAttempts: 2 } });
			const moved = ms(created.nextFires[0] ?? "");
			advance(60_500); // past the first fire time
			expect(await fireAlarm(id)).toBe(true);
			const after = await getSchedule(id);
			expect(after.runs).toHaveLength(1);
			expect(after.runs[0]).toMatchObject({ scheduledFor: new Date(moved).toISOString(), trigger: "cadence", outcome: "submitted" });
			expect(after.counts).toEqual({ submitted: 1, skipped: 0, missed: 0 });
			const taskId = after.runs[0]?.taskId ?? "";
			expect(await taskIdsFor(id, moved)).toEqual([taskId]);
			const done = await waitForTerminal(taskId, 75_000);
			expect(done).toMatchObject({
				status: "succeeded",
				result: { from: "schedule" },
				maxAttempts: 2,
				scheduleId: id,
				scheduledFor: new Date(moved).toISOString(),
				tags: ["nightly", `schedule:${id}`],
			});
			// The next fire is armed one interval later, and the run shows its task's status now.
			expect(ms(after.nextFires[0] ?? "")).toBe(moved + 60_000);
			expect(await alarmOf(id)).toBe(moved + 60_000);
			expect((await getSchedule(id)).runs[0]?.status).toBe("succeeded");
		},
	);

	it("a schedule's task carries its priority and concurrencyKey to every task it submits", async () => {
		const id = uid("flow");
		const task = { type: "echo", payload: { n: 1 }, priority: 9, concurrencyKey: "tenant-7" };
		const created = await put(id, { every: 3600, task });
		expect(created.task).toEqual(task);
		const { status, record } = await trigger(id);
		expect(status).toBe(202);
		expect(record).toMatchObject({ scheduleId: id, priority: 9, concurrencyKey: "tenant-7" });
		expect(await getTask(record.id)).toMatchObject({ priority: 9, concurrencyKey: "tenant-7" });
		// PATCHing the task without them drops them from later tasks.
		await patch(id, { task: { type: "echo", payload: { n: 2 } } });
		advance(2_000); // a trigger in another second: a new fire time, so a new task
		const later = await trigger(id);
		expect(later.record.id).not.toBe(record.id);
		expect(later.record.priority).toBeUndefined();
		expect(later.record.concurrencyKey).toBeUndefined();
	});

	it("an alarm that wakes early only re-arms", async () => {
		const id = uid("early");
		const created = await put(id, { every: 3600, task: { type: "echo" } });
		expect(await fireAlarm(id)).toBe(true);
		const after = await getSchedule(id);
		expect(after.runs).toEqual([]);
		expect(await alarmOf(id)).toBe(ms(created.nextFires[0] ?? ""));
	});
});

describe("one task per fire time", () => {
	it("a re-delivered alarm, and a crash between submit and bookkeeping, reach the same task", async () => {
		const id = uid("dup");
		await put(id, { every: 60, task: { type: "echo" } });
		advance(60_000);
		const before = await snapshot(id);
		const due = (await alarmOf(id)) ?? 0;
		expect(await fireAlarm(id)).toBe(true);
		const once = await getSchedule(id);
		const taskId = once.runs[0]?.taskId ?? "";
		const created = (await getTask(taskId)).createdAt;

		// The same alarm again, from the state before it ran: the submit happened, the bookkeeping
		// did not (a crash in between, or the runtime re-delivering the alarm).
		await restore(id, before, due);
		expect(await fireAlarm(id)).toBe(true);
		const twice = await getSchedule(id);
		expect(twice.runs.map((r) => r.taskId)).toEqual([taskId]);
		expect(twice.counts.submitted).toBe(1);
		// The task was not created again: the fire's key names that one task, created once.
		expect(await taskIdsFor(id, due)).toEqual([taskId]);
		expect((await getTask(taskId)).createdAt).toBe(created);

		// And a plain duplicate delivery after the bookkeeping: nothing is due, nothing happens.
		await runInDurableObject(getScheduleStub(env, id), (_instance, state) => state.storage.setAlarm(Date.now()));
		expect(await fireAlarm(id)).toBe(true);
		expect((await getSchedule(id)).runs).toHaveLength(1);
		// The schedule's tag finds exactly one task: the fire's.
		expect(await tasksOf(id)).toEqual([taskId]);
	});

	it("racing triggers in the same second create one task; a cadence fire at that second finds it too", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		vi.setSystemTime(new Date("2027-05-05T10:00:00.400Z"));
		const id = uid("race");
		await put(id, { every: 1, task: { type: "echo" } });
		const results = await Promise.all(Array.from({ length: 8 }, () => trigger(id)));
		const ids = new Set(results.map((r) => r.record.id));
		expect(ids.size).toBe(1);
		expect(results.filter((r) => r.status === 202)).toHaveLength(1);
		expect(results.filter((r) => r.status === 200)).toHaveLength(7);
		const [taskId] = ids;
		expect(await taskIdsFor(id, ms("2027-05-05T10:00:00Z"))).toEqual([taskId]);
		expect(results[0]?.record).toMatchObject({ scheduleId: id, scheduledFor: "2027-05-05T10:00:00.000Z" });

		// The interval's fire at 10:00:01 is another fire time: another task. Its alarm racing a
		// trigger in that second: still one task for the second.
		vi.setSystemTime(new Date("2027-05-05T10:00:01.100Z"));
		const [fromTrigger, fromAlarm] = await Promise.all([trigger(id), fireAlarm(id)]);
		expect(fromAlarm).toBe(true);
		const detail = await getSchedule(id);
		const submitted = detail.runs.filter((r) => r.outcome === "submitted");
		expect(submitted.map((r) => r.taskId)).toEqual([fromTrigger.record.id, taskId]);
		expect(await taskIdsFor(id, ms("2027-05-05T10:00:01Z"))).toEqual([fromTrigger.record.id]);
		expect(detail.counts.submitted).toBe(2);
		// Ten submits over two fire times, two tasks in all.
		expect(await tasksOf(id)).toEqual([taskId ?? "", fromTrigger.record.id].sort(byText));
	});
});

describe("pause, resume and catch-up", () => {
	it("a paused schedule has no alarm and no next fires", async () => {
		const id = uid("paused");
		const created = await put(id, { every: 60, paused: true, task: { type: "echo" } });
		expect(created).toMatchObject({ paused: true, state: "paused", nextFires: [] });
		expect(await alarmOf(id)).toBeNull();
	});

	it("resume with catchUp latest: the latest fire missed while paused runs once, the others are recorded as missed", async () => {
		const id = uid("resume-latest");
		await put(id, { every: 600, task: { type: "echo" } });
		await patch(id, { paused: true });
		expect(await alarmOf(id)).toBeNull();
		advance(105 * 60_000); // paused for 105 minutes: 10 fire times passed, the latest 5 minutes ago
		const resumed = await patch(id, { paused: false });
		expect(resumed.state).toBe("active");
		const alarm = await alarmOf(id);
		expect(alarm).not.toBeNull();
		expect(alarm ?? Infinity).toBeLessThanOrEqual(Date.now());
		await fireAlarm(id);
		const after = await getSchedule(id);
		expect(after.runs.map((r) => [r.trigger, r.outcome, r.missedFires])).toEqual([
			["catch-up", "submitted", undefined],
			["catch-up", "missed", 9],
		]);
		expect(after.counts).toEqual({ submitted: 1, skipped: 0, missed: 9 });
		// The catch-up run is for the latest missed fire time; the next fire is in the future.
		const [run, missed] = after.runs;
		expect(ms(run?.scheduledFor ?? "")).toBe(ms(missed?.missedUntil ?? "") + 600_000);
		expect(ms(after.nextFires[0] ?? "")).toBeGreaterThan(Date.now());
		expect(await getTask(run?.taskId ?? "")).toMatchObject({ scheduledFor: run?.scheduledFor });
	});

	it("catch-up after an outage with catchUp none: nothing runs, every missed fire is recorded", async () => {
		const id = uid("outage-none");
		await put(id, { every: 600, catchUp: "none", task: { type: "echo" } });
		advance(35 * 60_000); // down for 35 minutes: 3 fires, the latest 5 minutes late
		await fireAlarm(id);
		const after = await getSchedule(id);
		expect(after.runs).toEqual([expect.objectContaining({ trigger: "catch-up", outcome: "missed", missedFires: 3 })]);
		expect(after.counts).toEqual({ submitted: 0, skipped: 0, missed: 3 });
		expect(ms(after.nextFires[0] ?? "")).toBeGreaterThan(Date.now());
	});

	it("after an outage shorter than an interval's lateness limit, the latest fire runs on time and the rest are missed", async () => {
		const id = uid("outage-short");
		await put(id, { every: 60, catchUp: "none", task: { type: "echo" } });
		advance(10 * 60_000 + 30_000); // 10 fires passed, the latest 30 s ago: on time
		await fireAlarm(id);
		const after = await getSchedule(id);
		expect(after.runs.map((r) => [r.trigger, r.outcome, r.missedFires])).toEqual([
			["cadence", "submitted", undefined],
			["cadence", "missed", 9],
		]);
	});

	it("a fire a little late (within SCHEDULE_MISSED_AFTER_SECONDS) runs normally even with catchUp none", async () => {
		const id = uid("late-ok");
		await put(id, { every: 3600, catchUp: "none", task: { type: "echo" } });
		advance(3600_000 + 20_000); // 20 s late
		await fireAlarm(id);
		const after = await getSchedule(id);
		expect(after.runs).toEqual([expect.objectContaining({ trigger: "cadence", outcome: "submitted" })]);
		expect(after.counts.missed).toBe(0);
	});
});

describe("overlap and end dates", () => {
	// The first task runs through the real local queue: generous deadlines for a loaded machine.
	it(
		"overlap skip: a fire while the previous task is not final is skipped; after it ends, the next runs",
		{ timeout: 90_000 },
		async () => {
			const id = uid("overlap");
			await put(id, { every: 60, overlap: "skip", task: { type: "sleep", payload: { ms: 1500 } } });
			advance(60_000);
			await fireAlarm(id);
			const first = (await getSchedule(id)).runs[0]?.taskId ?? "";
			expect(first).not.toBe("");
			advance(60_000); // the next fire, while the first task still sleeps
			await fireAlarm(id);
			const skipped = await getSchedule(id);
			expect(skipped.runs[0]).toMatchObject({ outcome: "skipped-overlap", taskId: first });
			expect(skipped.counts).toEqual({ submitted: 1, skipped: 1, missed: 0 });
			await waitForTerminal(first, 75_000);
			advance(60_000);
			await fireAlarm(id);
			const after = await getSchedule(id);
			expect(after.runs[0]).toMatchObject({ outcome: "submitted" });
			expect(after.runs[0]?.taskId).not.toBe(first);
			expect(after.counts).toEqual({ submitted: 2, skipped: 1, missed: 0 });
		},
	);

	it("overlap allow (the default) submits regardless", async () => {
		const id = uid("overlap-allow");
		await put(id, { every: 60, task: { type: "sleep", payload: { ms: 1500 } } });
		advance(60_000);
		await fireAlarm(id);
		advance(60_000);
		await fireAlarm(id);
		expect((await getSchedule(id)).counts).toEqual({ submitted: 2, skipped: 0, missed: 0 });
	});

	it("ends at endAt: the last fire before it runs, then no alarm and state ended", async () => {
		const id = uid("ends");
		const created = await put(id, { every: 60, endAt: new Date(Date.now() + 150_000).toISOString(), task: { type: "echo" } });
		expect(created.nextFires).toHaveLength(2);
		advance(60_000);
		await fireAlarm(id);
		advance(60_000);
		await fireAlarm(id);
		const after = await getSchedule(id);
		expect(after).toMatchObject({ state: "ended", nextFires: [] });
		expect(after.counts.submitted).toBe(2);
		expect(await alarmOf(id)).toBeNull();
		// A manual trigger still works after the end (a second later: the last fire's second is taken).
		advance(1000);
		expect((await trigger(id)).status).toBe(202);
	});
});

describe("changing a schedule", () => {
	it("PATCH changes the cadence (starting afresh), the task, and validates like PUT", async () => {
		const id = uid("patch");
		await put(id, { every: 60, task: { type: "echo" } });
		const changed = await patch(id, { every: 300, task: { type: "echo", payload: { v: 2 } }, overlap: "skip" });
		expect(changed).toMatchObject({ every: 300, overlap: "skip", task: { payload: { v: 2 } } });
		const fires = changed.nextFires.map(ms);
		expect((fires[1] ?? 0) - (fires[0] ?? 0)).toBe(300_000);
		const toCron = await patch(id, { cron: "0 12 * * *", timezone: "Asia/Tokyo" });
		expect(toCron).toMatchObject({ cron: "0 12 * * *", timezone: "Asia/Tokyo" });
		expect(toCron.every).toBeUndefined();
		expect(toCron.nextFires[0]).toMatch(/T03:00:00.000Z$/);

		for (const [body, path] of [
			[{ cron: "nope" }, "cron"],
			[{ timezone: "Nowhere/Land" }, "timezone"],
			[{ task: { type: "sleep", payload: { ms: "x" } } }, "task.payload.ms"],
			[{ paused: "yes" }, "paused"],
		] as const) {
			const problem = await expectProblem(await api(`/v1/schedules/${id}`, { method: "PATCH", json: body }), 422);
			expect(problem.errors?.map((e) => e.path)).toContain(path);
		}
		// The failed patches changed nothing.
		expect(await getSchedule(id)).toMatchObject({ cron: "0 12 * * *", timezone: "Asia/Tokyo" });
	});

	it("a trigger whose task no longer validates is recorded as rejected", async () => {
		const id = uid("rejected");
		await put(id, { every: 60, task: { type: "echo" } });
		// Stored by an older version of the Worker with a payload the type now refuses.
		await runInDurableObject(getScheduleStub(env, id), (_instance, state) => {
			const stored = z.looseObject({ task: z.looseObject({}) }).parse(state.storage.kv.get("schedule"));
			state.storage.kv.put("schedule", { ...stored, task: { ...stored.task, type: "sleep", payloadJson: '{"ms":-5}' } });
		});
		await evictDurableObject(getScheduleStub(env, id));
		const problem = await expectProblem(await api(`/v1/schedules/${id}/trigger`, { method: "POST" }), 422);
		expect(problem.errors?.[0]?.path).toBe("task.payload.ms");
		expect((await getSchedule(id)).runs[0]).toMatchObject({ outcome: "rejected", trigger: "manual" });
	});
});
