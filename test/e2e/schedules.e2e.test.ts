// Schedules against the shared real `wrangler dev`, over plain HTTP: an interval schedule fires
// every 2 s and its tasks succeed, a seconds cron fires on time, and the management routes.
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, expect, inject, it } from "vitest";
import { createClient, TaskflareError } from "../../src/client";
import { ScheduleDetail, ScheduleList } from "../../src/schedule-schemas";
import { TaskRecord } from "../../src/schemas";
import { ApiClient, expectStatus, parseJson, parseProblem } from "./client";

const api = new ApiClient(inject("baseUrl"), inject("apiToken"));
const uid = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
const created: string[] = [];

async function putSchedule(id: string, body: unknown): Promise<ScheduleDetail> {
	const response = await api.request("PUT", `/v1/schedules/${id}`, { json: body });
	expectStatus(response, 201);
	created.push(id);
	return parseJson(response, ScheduleDetail);
}

async function getSchedule(id: string): Promise<ScheduleDetail> {
	const response = await api.request("GET", `/v1/schedules/${id}`);
	expectStatus(response, 200);
	return parseJson(response, ScheduleDetail);
}

/** Polls the schedule until `enough` holds, with a deadline. */
async function waitFor(id: string, enough: (s: ScheduleDetail) => boolean, deadlineMs: number): Promise<ScheduleDetail> {
	const deadline = Date.now() + deadlineMs;
	for (;;) {
		const schedule = await getSchedule(id);
		if (enough(schedule)) return schedule;
		if (Date.now() > deadline) throw new Error(`schedule ${id} not there within ${deadlineMs} ms: ${JSON.stringify(schedule.runs)}`);
		await delay(250);
	}
}

const submittedRuns = (s: ScheduleDetail) => s.runs.filter((r) => r.outcome === "submitted");

afterAll(async () => {
	// Stop the schedules so they do not keep firing while the other e2e files run.
	for (const id of created) await api.request("DELETE", `/v1/schedules/${id}`);
	expect(api.serverErrors).toEqual([]);
});

it("an every-2-seconds schedule fires about every 2 s, one task per fire, and its tasks succeed", async () => {
	const id = uid("every2");
	const schedule = await putSchedule(id, { every: 2, task: { type: "echo", payload: { from: id } } });
	const [first, second] = schedule.nextFires.map(Date.parse);
	expect((second ?? 0) - (first ?? 0)).toBe(2000);
	const fired = await waitFor(id, (s) => submittedRuns(s).length >= 5, 30_000);
	const runs = submittedRuns(fired).reverse(); // oldest first
	const times = runs.map((r) => Date.parse(r.scheduledFor));
	// Consecutive fire times, 2 s apart, none twice; each handled within a few seconds of its time.
	expect(times.slice(1).map((time, i) => time - (times[i] ?? 0))).toEqual(times.slice(1).map(() => 2000));
	expect(new Set(runs.map((r) => r.taskId)).size).toBe(runs.length);
	const lateMs = runs.map((r) => Date.parse(r.recordedAt) - Date.parse(r.scheduledFor));
	console.log(`schedules e2e: every 2 s, ms from fire time to its alarm: ${lateMs.join(", ")}`);
	for (const late of lateMs) expect(late).toBeLessThan(5_000);
	const createdMs: number[] = [];
	for (const run of runs) {
		const task = await api.waitForTerminal(run.taskId ?? "", 60_000);
		expect(task).toMatchObject({
			status: "succeeded",
			result: { from: id },
			scheduleId: id,
			scheduledFor: run.scheduledFor,
			tags: [`schedule:${id}`],
		});
		createdMs.push(Date.parse(task.createdAt) - Date.parse(run.scheduledFor));
	}
	console.log(`schedules e2e: every 2 s, ms from fire time to its task's createdAt: ${createdMs.join(", ")}`);
	expect(fired.counts.missed).toBe(0);
});

it("a seconds cron (*/1 * * * * *) fires every second on time", async () => {
	const id = uid("cron-s");
	await putSchedule(id, { cron: "*/1 * * * * *", task: { type: "echo" } });
	const fired = await waitFor(id, (s) => submittedRuns(s).length >= 6, 30_000);
	const runs = submittedRuns(fired).reverse();
	const times = runs.map((r) => Date.parse(r.scheduledFor));
	for (const time of times) expect(time % 1000).toBe(0);
	expect(new Set(times).size).toBe(times.length);
	// On time: recorded within a few seconds of the fire time even on a loaded machine.
	const late = runs.map((r) => Date.parse(r.recordedAt) - Date.parse(r.scheduledFor));
	console.log(`schedules e2e: */1 * * * * *, ms from fire time to its alarm: ${late.join(", ")}`);
	expect(Math.max(...late)).toBeLessThan(5_000);
	// Pausing stops it: no new runs after the pause.
	const response = await api.request("PATCH", `/v1/schedules/${id}`, { json: { paused: true } });
	expectStatus(response, 200);
	const paused = parseJson(response, ScheduleDetail);
	expect(paused).toMatchObject({ state: "paused", nextFires: [] });
	await delay(2_500);
	expect((await getSchedule(id)).counts.submitted).toBe(paused.counts.submitted);
});

it("POST creates, the list pages, trigger runs now, DELETE stops it; errors are problems", async () => {
	const post = await api.request("POST", "/v1/schedules", {
		json: { cron: "0 3 * * *", timezone: "Europe/Paris", task: { type: "sha256", payload: { text: "abc" } } },
	});
	expectStatus(post, 201);
	const schedule = parseJson(post, ScheduleDetail);
	created.push(schedule.id);
	expect(post.headers.get("Location")).toBe(`/v1/schedules/${schedule.id}`);
	expect(schedule.nextFires).toHaveLength(5);

	const trigger = await api.request("POST", `/v1/schedules/${schedule.id}/trigger`);
	expectStatus(trigger, 202);
	const task = parseJson(trigger, TaskRecord);
	expect(trigger.headers.get("Location")).toBe(`/v1/tasks/${task.id}`);
	expect((await api.waitForTerminal(task.id, 60_000)).status).toBe("succeeded");

	const ids: string[] = [];
	let cursor: string | null = null;
	do {
		const list = await api.request("GET", `/v1/schedules?limit=1${cursor === null ? "" : `&cursor=${cursor}`}`);
		expectStatus(list, 200);
		const page = parseJson(list, ScheduleList);
		ids.push(...page.schedules.map((s) => s.id));
		cursor = page.nextCursor;
	} while (cursor !== null);
	expect(ids).toContain(schedule.id);

	const invalid = await api.request("PUT", `/v1/schedules/${uid("bad")}`, { json: { cron: "* * *", task: { type: "echo" } } });
	expect(invalid.status).toBe(422);
	expect(parseProblem(invalid).errors?.[0]?.path).toBe("cron");

	const deleted = await api.request("DELETE", `/v1/schedules/${schedule.id}`);
	expect(deleted.status).toBe(204);
	const gone = await api.request("GET", `/v1/schedules/${schedule.id}`);
	expect(parseProblem(gone).status).toBe(404);
});

it("the typed client manages schedules", async () => {
	const client = createClient({ baseUrl: inject("baseUrl"), token: inject("apiToken") });
	const id = uid("client");
	const schedule = await client.schedules.put(id, { every: 3600, task: { type: "echo", payload: { via: "client" } } });
	created.push(id);
	expect(schedule).toMatchObject({ id, every: 3600, state: "active" });
	expect(await client.schedules.put(id, { every: 3600, task: { type: "echo", payload: { via: "client" } } })).toEqual(schedule);
	expect((await client.schedules.update(id, { paused: true })).state).toBe("paused");
	const task = await client.schedules.trigger(id);
	expect(task).toMatchObject({ scheduleId: id, tags: [`schedule:${id}`] });
	expect((await client.wait(task.id, { timeoutMs: 60_000 })).result).toEqual({ via: "client" });
	const detail = await client.schedules.get(id);
	expect(detail.runs[0]).toMatchObject({ trigger: "manual", outcome: "submitted", taskId: task.id, status: "succeeded" });
	const page = await client.schedules.list({ limit: 100 });
	expect(page.schedules.length).toBeGreaterThan(0);
	const error = await client.schedules.put(id, { cron: "0 25 * * *", task: { type: "echo" } }).catch((e: unknown) => e);
	expect(error).toBeInstanceOf(TaskflareError);
	if (error instanceof TaskflareError) expect(error.problem.errors?.[0]?.path).toBe("cron");
	await client.schedules.delete(id);
	const gone = await client.schedules.get(id).catch((e: unknown) => e);
	expect(gone instanceof TaskflareError && gone.status).toBe(404);
});
