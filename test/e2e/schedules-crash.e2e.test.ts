// Schedules survive a crash: with its own `wrangler dev` (not the shared one), this test lets four
// schedules fire, SIGKILLs the whole server, starts it again on the same persistence directory,
// and checks that every schedule resumes by its own alarm, that no fire time got two tasks, that
// every fire time is accounted for (a task, or inside a recorded `missed` run), and that catchUp
// was applied to what the outage missed.
//
// SCHEDULE_MISSED_AFTER_SECONDS is 5 here (60 by default), so a fire handled more than 5 s late
// counts as missed: the outage (kill → restart → first alarm) lasts longer than that.
//   every2  every 2 s,        catchUp latest: its latest fire at the restart is at most 2 s old
//                             (on time): it runs; the others in the gap are recorded as missed.
//   cron1   `*/1 * * * * *`,  catchUp none: the same, every second.
//   late    every hour, startAt inside the outage, catchUp latest: that one fire is > 5 s late at
//                             the restart: it runs once, as a catch-up.
//   skipped the same with catchUp none: recorded as one missed fire, no task.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
	type DevServer,
	type DevServerOptions,
	findFreePort,
	killGroupNow,
	logTail,
	startDevServer,
	stopDevServer,
	waitUntilHealthy,
} from "../../scripts/dev-server";
import { ScheduleDetail, type ScheduleRun } from "../../src/schedule-schemas";
import { TaskPage } from "../../src/schemas";
import { ApiClient, expectStatus, parseJson } from "./client";

const API_TOKEN = "schedules-crash-token";
const STARTUP_TIMEOUT_MS = 90_000;
const MISSED_AFTER_SECONDS = 5;

let runDir = "";
let options: DevServerOptions;
let server: DevServer | undefined;
let passed = false;
const killOnExit = () => {
	if (server) killGroupNow(server.pid);
};

async function start(): Promise<DevServer> {
	const started = await startDevServer(options);
	server = started;
	try {
		await waitUntilHealthy(started, STARTUP_TIMEOUT_MS);
	} catch (error) {
		console.error(`\n--- schedules crash test: wrangler dev log, last lines ---\n${logTail(options.logFile)}\n---`);
		throw error;
	}
	return started;
}

beforeAll(async () => {
	runDir = await mkdtemp(path.join(tmpdir(), "taskflare-schedules-crash-"));
	options = {
		port: await findFreePort(),
		persistTo: path.join(runDir, "state"),
		logFile: path.join(runDir, "wrangler-dev.log"),
		apiToken: API_TOKEN,
		// Tasks whose queue message died with the server are re-sent 5 s after the restart.
		vars: { SCHEDULE_MISSED_AFTER_SECONDS: String(MISSED_AFTER_SECONDS), REDRIVE_AFTER_SECONDS: "5" },
	};
	process.once("exit", killOnExit);
	await start();
}, STARTUP_TIMEOUT_MS + 30_000);

afterAll(async () => {
	if (server) await stopDevServer(server, { signal: "SIGKILL" });
	process.off("exit", killOnExit);
	if (passed && !process.env.TASKFLARE_E2E_KEEP) await rm(runDir, { recursive: true, force: true });
	else if (runDir) console.log(`schedules crash test: run directory kept: ${runDir} (server log: ${options.logFile})`);
}, 30_000);

const submitted = (runs: readonly ScheduleRun[]) => runs.filter((r) => r.outcome === "submitted");

/**
 * Every fire time from the oldest to the newest run listed, `stepMs` apart, must be accounted for
 * exactly once: by one submitted run, or inside one missed run's range. Returns the problems.
 */
function accountingProblems(runs: readonly ScheduleRun[], stepMs: number): string[] {
	const seen = new Map<number, number>();
	const count = (t: number) => seen.set(t, (seen.get(t) ?? 0) + 1);
	for (const run of runs) {
		const from = Date.parse(run.scheduledFor);
		if (run.outcome === "missed") {
			const until = Date.parse(run.missedUntil ?? run.scheduledFor);
			let n = 0;
			for (let t = from; t <= until; t += stepMs) {
				n++;
				count(t);
			}
			if (n !== run.missedFires) return [`missed run from ${run.scheduledFor} counts ${run.missedFires} fires, spans ${n}`];
		} else {
			count(from);
		}
	}
	const times = [...seen.keys()].sort((a, b) => a - b);
	const problems: string[] = [];
	for (let t = times[0] ?? 0; t <= (times.at(-1) ?? 0); t += stepMs) {
		const n = seen.get(t) ?? 0;
		if (n !== 1) problems.push(`${new Date(t).toISOString()} accounted ${n} times`);
	}
	return problems;
}

it(
	"after SIGKILL and a restart on the same state, schedules resume, no fire time gets two tasks, catchUp applies",
	{ timeout: 2 * STARTUP_TIMEOUT_MS + 120_000 },
	async () => {
		const first = server;
		if (!first) throw new Error("no server");
		let api = new ApiClient(first.baseUrl, API_TOKEN);
		const put = async (id: string, body: unknown) => expectStatus(await api.request("PUT", `/v1/schedules/${id}`, { json: body }), 201);
		const get = async (id: string) => {
			const response = await api.request("GET", `/v1/schedules/${id}`);
			expectStatus(response, 200);
			return parseJson(response, ScheduleDetail);
		};

		await put("every2", { every: 2, catchUp: "latest", task: { type: "echo", payload: { s: "every2" } } });
		await put("cron1", { cron: "*/1 * * * * *", catchUp: "none", task: { type: "echo", payload: { s: "cron1" } } });
		// Both have fired a few times before the kill.
		const deadline = Date.now() + 30_000;
		while (submitted((await get("every2")).runs).length < 3 || submitted((await get("cron1")).runs).length < 4) {
			if (Date.now() > deadline) throw new Error("schedules did not fire before the kill");
			await delay(200);
		}
		// One fire each, 3 s from now: inside the outage.
		const startAt = Math.ceil((Date.now() + 3_000) / 1000) * 1000;
		const once = { every: 3600, startAt: new Date(startAt).toISOString(), task: { type: "echo", payload: { s: "once" } } };
		await put("late", { ...once, catchUp: "latest" });
		await put("skipped", { ...once, catchUp: "none" });

		const killAt = Date.now();
		await stopDevServer(first, { signal: "SIGKILL" });
		// Stay down until the one-off fire is well past the lateness limit.
		await delay(Math.max(0, startAt + (MISSED_AFTER_SECONDS + 3) * 1000 - Date.now()));
		const restarted = await start();
		const healthyAt = Date.now();
		api = new ApiClient(restarted.baseUrl, API_TOKEN);

		// Nothing but these reads touches the schedules' objects: their alarms must bring them back.
		// Poll until each has fired after the restart (a loaded machine may be slow to wake them).
		const resumed = (s: ScheduleDetail) => submitted(s.runs).filter((r) => Date.parse(r.scheduledFor) >= healthyAt).length >= 2;
		const readAll = async () => ({
			every2: await get("every2"),
			cron1: await get("cron1"),
			late: await get("late"),
			skipped: await get("skipped"),
		});
		let after = await readAll();
		const resumeDeadline = Date.now() + 60_000;
		while (!(resumed(after.every2) && resumed(after.cron1) && after.late.runs.length > 0 && after.skipped.runs.length > 0)) {
			if (Date.now() > resumeDeadline) break; // the assertions below say what is missing
			await delay(500);
			after = await readAll();
		}
		const summary = Object.fromEntries(
			Object.entries(after).map(([id, s]) => [
				id,
				{
					counts: s.counts,
					runs: s.runs.map((r) => `${r.scheduledFor.slice(11, 19)} ${r.trigger} ${r.outcome}${r.missedFires ? ` ×${r.missedFires}` : ""}`),
				},
			]),
		);
		console.log(`schedules crash: down ${((healthyAt - killAt) / 1000).toFixed(1)} s; ${JSON.stringify(summary)}`);

		for (const [id, stepMs] of [
			["every2", 2000],
			["cron1", 1000],
		] as const) {
			const schedule = after[id];
			const runs = submitted(schedule.runs);
			// Resumed: fires after the restart, recorded by the alarm.
			expect(runs.filter((r) => Date.parse(r.scheduledFor) >= healthyAt).length, id).toBeGreaterThanOrEqual(2);
			// The outage is recorded as missed fires.
			expect(
				schedule.runs.some((r) => r.outcome === "missed" && Date.parse(r.scheduledFor) > killAt - stepMs),
				id,
			).toBe(true);
			// No fire time twice, no two runs with the same task, nothing unaccounted for.
			expect(new Set(runs.map((r) => r.scheduledFor)).size, id).toBe(runs.length);
			expect(new Set(runs.map((r) => r.taskId)).size, id).toBe(runs.length);
			expect(accountingProblems(schedule.runs, stepMs), id).toEqual([]);
			// Every task is the schedule's, for its fire time, and ends (re-driven if its message died).
			for (const run of runs) {
				const task = await api.waitForTerminal(run.taskId ?? "", 60_000);
				expect(task, id).toMatchObject({ status: "succeeded", scheduleId: id, scheduledFor: run.scheduledFor });
			}
			// Every task the schedule ever created (by its tag, from the task index), including any
			// whose bookkeeping the kill cut off: no two share a fire time.
			const listed = await api.request("GET", `/v1/tasks?tag=${encodeURIComponent(`schedule:${id}`)}&limit=200`);
			expectStatus(listed, 200);
			const all = parseJson(listed, TaskPage).tasks;
			expect(all.length, id).toBeGreaterThanOrEqual(runs.length);
			const fireTimes = await Promise.all(all.map(async (task) => (await api.getTask(task.id)).scheduledFor));
			expect(new Set(fireTimes).size, `${id}: ${fireTimes.join(", ")}`).toBe(all.length);
			expect(all.map((task) => task.id)).toEqual(expect.arrayContaining(runs.map((r) => r.taskId)));
		}

		// catchUp latest: the missed one-off fire ran once after the restart, as a catch-up.
		expect(after.late.runs).toEqual([
			expect.objectContaining({ scheduledFor: new Date(startAt).toISOString(), trigger: "catch-up", outcome: "submitted" }),
		]);
		const lateTask = await api.waitForTerminal(after.late.runs[0]?.taskId ?? "", 60_000);
		expect(lateTask).toMatchObject({ status: "succeeded", scheduledFor: new Date(startAt).toISOString() });
		// catchUp none: recorded as missed, no task.
		expect(after.skipped.runs).toEqual([
			expect.objectContaining({ scheduledFor: new Date(startAt).toISOString(), outcome: "missed", missedFires: 1 }),
		]);
		expect(after.skipped.counts).toEqual({ submitted: 0, skipped: 0, missed: 1 });
		expect(api.serverErrors).toEqual([]);
		passed = true;
	},
);
