// "Nothing accepted is lost": a crash test with its own `wrangler dev` (not the shared one of
// global-setup.ts). It submits 300 tasks, SIGKILLs the whole server (wrangler, workerd) while
// tasks are queued, retrying and running, starts it again on the same persistence directory and
// port, and checks that every task answered 202 still ends, succeeded, with its own result.
//
// What survives the kill: each task's Durable Object (record + alarm) is on disk. What does not:
// Miniflare keeps queues in memory, so every message waiting, delayed or due for a retry is
// dropped. Recovery therefore rests on the objects' alarms alone: a due task that shows no sign of
// life for REDRIVE_AFTER_SECONDS (5 s here) is re-sent, and a running attempt whose lease lapsed
// (30 s without a renewal, whatever the type's timeout) is retried.
//
// The task mix and the kill moment are chosen so that the test proves, every run, the recovery of
// queued, retrying and running tasks, long-timeout ones included, within 90 s of the restart. What
// they rest on (observed locally):
// - The local queue delivers a batch 50 ms (max_batch_timeout) after a message arrives while no
//   batch is in flight, and at once (even while another is in flight) when 100 (max_batch_size)
//   messages wait. A retry that a batch asked for (flaky: 1 s later) is scheduled only when the
//   whole batch is done.
// - An attempt cut off by the kill keeps its task "running" until its lease lapses (at most 30 s
//   after the kill; the object's alarm notices within 15 s more), then it is retried.
// - Echo and flaky attempts last milliseconds: a kill at an arbitrary moment almost never catches
//   one running (tried: polling the states for 5 s after the last submit never saw one). But a
//   sha256 task of 1,000,000 iterations never yields to the event loop while it hashes (~3 s):
//   the whole local Worker stands still, /healthz does not answer, and the attempts of its batch
//   that had started stay stuck before their outcome is recorded.
// The test, in that light (T = when the batch of step 2 is due):
// 1. Submits the bulk, 16 at a time: echo, every 10th flaky (the first attempt fails, the retry
//    follows 1 s later), then SLEEP_TASKS sleep tasks (2–4 s) delayed by SLEEP_DELAY_SECONDS: due
//    only after the kill (checked from their runAt); after the restart they make the recovered
//    queue's batches slow (a batch lasts as long as its longest task), which recovery must cope
//    with. Waits until the bulk has run (the queue is idle).
// 2. Submits 100 tasks in one batch request (POST /v1/tasks/batch), all delayed by
//    BATCH_DELAY_SECONDS, the sha256 task among them: at T their 100 messages come due together,
//    so they are delivered at once, as one batch, and it hashes.
// 3. At T - 1 s submits, in one batch request (so one consumer batch), a wave of flaky tasks and
//    RUNNING_SLEEPS sleep tasks of 6–8 s (a long-timeout type: 660 s). The flaky first attempts
//    fail at once, but their retries are scheduled only when the batch ends, after the sleeps:
//    "retrying" at the kill; the sleep attempts are cut off: "running". Then a few echo tasks
//    delayed by 3–10 s.
// 4. Polls the sha256 task and kills the server as soon as the Worker does not answer within
//    STALL_THRESHOLD_MS (it hashes), or answers that the task is running (should sha256 ever
//    yield while hashing): the sha256 attempt, the sleep attempts and the others of the batch
//    that had started are cut off ("running"). Their leases lapse within 30 s of the kill (before:
//    timeout + 30 s: 150 s for sha256, 690 s for sleep); the rest recovers within seconds.
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type JsonValue, type SubmitTaskBody, TaskRecord, TaskRecordList } from "../../src/schemas";
import { ApiClient, expectStatus, mapPool, parseJson, TERMINAL_STATUSES } from "./client";
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

const TASKS = 300;
/** Requests in flight at a time, for submitting and for polling. */
const CONCURRENCY = 16;
/** Submission order (see the comment at the top): bulk, sleeps, batch, flaky wave, delayed echo. */
const SLEEP_TASKS = 24;
const BATCH_TASKS = 100;
const FLAKY_WAVE = 15;
/** Sleep tasks (timeout 660 s) running at the kill. */
const RUNNING_SLEEPS = 10;
const DELAYED_ECHO = 8;
const BULK_TASKS = TASKS - SLEEP_TASKS - BATCH_TASKS - FLAKY_WAVE - RUNNING_SLEEPS - DELAYED_ECHO;
const SLEEPS_FROM = BULK_TASKS;
const BATCH_FROM = SLEEPS_FROM + SLEEP_TASKS;
const WAVE_FROM = BATCH_FROM + BATCH_TASKS;
const RUNNING_SLEEPS_FROM = WAVE_FROM + FLAKY_WAVE;
const DELAYED_FROM = RUNNING_SLEEPS_FROM + RUNNING_SLEEPS;
const SHA256_INDEX = BATCH_FROM + BATCH_TASKS / 2;
const BATCH_DELAY_SECONDS = 3;
/** The wave and the running sleeps are submitted this long before the batch is due. */
const WAVE_LEAD_MS = 1_000;
const SLEEP_DELAY_SECONDS = 20;
const SHA256_TEXT = "taskflare crash test";
const SHA256_ITERATIONS = 1_000_000;
/** Longest wait for the bulk to run (its tasks end within seconds). */
const BULK_DEADLINE_MS = 60_000;
/** A GET normally answers in milliseconds; this long without an answer means sha256 is hashing. */
const STALL_THRESHOLD_MS = 1_500;
/** Longest wait, after the batch is due, for the sha256 task to run. */
const SHA256_START_TIMEOUT_MS = 10_000;
/** Re-drive silent tasks after 5 s (instead of 120 s), so recovery is quick. */
const REDRIVE_AFTER_SECONDS = 5;
/**
 * From the restart until every accepted task must be final: a lapsed lease (at most 30 s after
 * the kill) noticed by the alarm (15 s more), the retries (the sleeps: 8 s), and a margin for a
 * loaded machine. The bound.
 */
const RECOVERY_DEADLINE_MS = 90_000;
/** How long to keep watching past the deadline, to report how late a straggler was. */
const REPORT_GRACE_MS = 60_000;
/** The lease: an attempt cut off by the kill is retried only after it lapsed. */
const LEASE_SECONDS = 30;
/** First start compiles the Worker and boots workerd; slow machines need a while. */
const STARTUP_TIMEOUT_MS = 90_000;
const API_TOKEN = "crash-token";

/**
 * A task to submit and what it should end with: `attempts` when nothing cuts it off, its `result`
 * given its final record.
 */
type Planned = { body: SubmitTaskBody; attempts: number; result: (final: TaskRecord) => JsonValue };

/** The task of submission index `i` (see the comment at the top). */
function plan(i: number, run: string): Planned {
	if (i >= SLEEPS_FROM && i < BATCH_FROM) {
		const ms = 2000 + ((i * 397) % 2001); // 2000..4000
		const body = { type: "sleep", payload: { ms }, delaySeconds: SLEEP_DELAY_SECONDS };
		return { body, attempts: 1, result: () => ({ sleptMs: ms }) };
	}
	if (i >= RUNNING_SLEEPS_FROM && i < DELAYED_FROM) {
		const ms = 6000 + (i % 3) * 1000;
		return { body: { type: "sleep", payload: { ms } }, attempts: 1, result: () => ({ sleptMs: ms }) };
	}
	if (i === SHA256_INDEX) {
		const hex = iteratedSha256(SHA256_TEXT, SHA256_ITERATIONS);
		const body = { type: "sha256", payload: { text: SHA256_TEXT, iterations: SHA256_ITERATIONS }, delaySeconds: BATCH_DELAY_SECONDS };
		return { body, attempts: 1, result: () => ({ hex }) };
	}
	const inBatch = i >= BATCH_FROM && i < WAVE_FROM;
	const inWave = i >= WAVE_FROM && i < DELAYED_FROM;
	if (inWave || (i < WAVE_FROM && i % 10 === 3)) {
		const body = { type: "flaky", payload: { failTimes: 1 }, delaySeconds: inBatch ? BATCH_DELAY_SECONDS : undefined };
		// flaky answers with the number of the attempt that succeeded: 2, or more after a cut-off.
		return { body, attempts: 2, result: (final) => ({ attempts: Math.max(2, final.attempts) }) };
	}
	const payload = { run, i };
	const delaySeconds = inBatch ? BATCH_DELAY_SECONDS : i >= DELAYED_FROM ? 3 + (i % 8) : undefined;
	return { body: { type: "echo", payload, delaySeconds }, attempts: 1, result: () => payload };
}

/** sha256 applied `iterations` times: first to the UTF-8 text, then to the raw digest. */
function iteratedSha256(text: string, iterations: number): string {
	let digest = createHash("sha256").update(text, "utf8").digest();
	for (let i = 1; i < iterations; i++) digest = createHash("sha256").update(digest).digest();
	return digest.toString("hex");
}

/**
 * "running" if the task is running, "stalled" if the Worker did not answer within `timeoutMs`
 * (while sha256 hashes nothing answers), "not yet" otherwise.
 */
async function runningOrStalled(baseUrl: string, id: string, timeoutMs: number): Promise<"running" | "stalled" | "not yet"> {
	try {
		const response = await fetch(`${baseUrl}/v1/tasks/${id}`, {
			headers: { Authorization: `Bearer ${API_TOKEN}` },
			signal: AbortSignal.timeout(timeoutMs),
		});
		const record = TaskRecord.parse(await response.json());
		return record.status === "running" ? "running" : "not yet";
	} catch (error) {
		if (error instanceof DOMException && error.name === "TimeoutError") return "stalled";
		throw error;
	}
}

let runDir = "";
let options: DevServerOptions;
/** The server of the moment (replaced at the restart); afterAll and the exit hook stop it. */
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
		console.error(`\n--- crash test: wrangler dev log (${options.logFile}), last lines ---\n${logTail(options.logFile)}\n---`);
		throw error;
	}
	return started;
}

beforeAll(async () => {
	runDir = await mkdtemp(path.join(tmpdir(), "taskflare-crash-"));
	options = {
		port: await findFreePort(),
		persistTo: path.join(runDir, "state"),
		logFile: path.join(runDir, "wrangler-dev.log"),
		apiToken: API_TOKEN,
		vars: { REDRIVE_AFTER_SECONDS: String(REDRIVE_AFTER_SECONDS) },
	};
	// If vitest dies without running afterAll, do not leave a detached server behind.
	process.once("exit", killOnExit);
	await start();
}, STARTUP_TIMEOUT_MS + 30_000);

afterAll(async () => {
	// Always stop our server, also when the test failed or timed out.
	if (server) await stopDevServer(server, { signal: "SIGKILL" });
	process.off("exit", killOnExit);
	if (passed && !process.env.TASKFLARE_E2E_KEEP) await rm(runDir, { recursive: true, force: true });
	else if (runDir) console.log(`crash test: run directory kept: ${runDir} (server log: ${options.logFile})`);
}, 30_000);

it(
	`${TASKS} accepted tasks all end after wrangler dev is SIGKILLed and restarted`,
	{ timeout: 2 * STARTUP_TIMEOUT_MS + RECOVERY_DEADLINE_MS + REPORT_GRACE_MS + 60_000 },
	async () => {
		const first = server;
		if (!first) throw new Error("no server");
		const api = new ApiClient(first.baseUrl, API_TOKEN);
		const run = `${Date.now()}`;
		const plans = Array.from({ length: TASKS }, (_, i) => plan(i, run));
		const submit = async ({ body }: Planned): Promise<TaskRecord> => {
			const response = await api.request("POST", "/v1/tasks", { json: body });
			expectStatus(response, 202);
			return parseJson(response, TaskRecord);
		};

		// 1. The bulk and the sleep tasks, CONCURRENCY requests at a time. Every submit before the
		// kill must be answered 202 (submit throws otherwise). Then wait until the bulk has run.
		const submitStarted = performance.now();
		const records = await mapPool(plans.slice(0, BATCH_FROM), CONCURRENCY, submit);
		await mapPool(records.slice(0, BULK_TASKS), CONCURRENCY, (r) => api.waitForTerminal(r.id, BULK_DEADLINE_MS));

		// 2. The batch (due at T, together).
		const batch = await api.request("POST", "/v1/tasks/batch", { json: { tasks: plans.slice(BATCH_FROM, WAVE_FROM).map((p) => p.body) } });
		expectStatus(batch, 202);
		const batchRecords = parseJson(batch, TaskRecordList).tasks;
		records.push(...batchRecords);
		const dueAt = Math.min(...batchRecords.map((r) => Date.parse(r.runAt ?? "")));

		// 3. At T - 1 s, the flaky wave and the running sleeps (one batch request), then the delayed
		// echo tasks.
		await delay(Math.max(0, dueAt - WAVE_LEAD_MS - Date.now()));
		const wave = await api.request("POST", "/v1/tasks/batch", { json: { tasks: plans.slice(WAVE_FROM, DELAYED_FROM).map((p) => p.body) } });
		expectStatus(wave, 202);
		records.push(...parseJson(wave, TaskRecordList).tasks);
		records.push(...(await mapPool(plans.slice(DELAYED_FROM), CONCURRENCY, submit)));
		const lastSubmitAt = Date.now();
		const submitSeconds = (performance.now() - submitStarted) / 1000;
		expect(records.map((r) => r.type)).toEqual(plans.map((p) => p.body.type));

		// 4. Wait until the sha256 task runs (the Worker stands still while it hashes), then kill:
		// SIGKILL to the whole process group (wrangler, workerd, esbuild), no shutdown.
		const sha256 = records[SHA256_INDEX];
		if (!sha256) throw new Error("no sha256 task");
		let killTrigger: "running" | "stalled" | "not yet";
		while ((killTrigger = await runningOrStalled(first.baseUrl, sha256.id, STALL_THRESHOLD_MS)) === "not yet") {
			if (Date.now() - dueAt > SHA256_START_TIMEOUT_MS)
				throw new Error(`the sha256 task did not start within ${SHA256_START_TIMEOUT_MS} ms of T`);
			await delay(50);
		}
		const killAt = Date.now();
		await stopDevServer(first, { signal: "SIGKILL" });
		// The delayed sleep tasks were still waiting at the kill.
		const firstSleepDue = Math.min(...records.slice(SLEEPS_FROM, BATCH_FROM).map((r) => Date.parse(r.runAt ?? "")));
		expect(firstSleepDue - killAt, "a delayed sleep task was due before the kill: submitting took too long").toBeGreaterThan(1_000);

		// 5. Start again on the same persistence directory and port.
		await start();
		const healthyAt = Date.now();
		const deadline = healthyAt + RECOVERY_DEADLINE_MS + REPORT_GRACE_MS;

		// 6. Every accepted task must end. Long-poll each one (?wait, at most 10 s a request) until
		// it is final or the deadline passes.
		let networkErrors = 0;
		const finals = await mapPool(records, CONCURRENCY, async (record) => {
			let last = record;
			while (!TERMINAL_STATUSES.includes(last.status)) {
				const remainingMs = deadline - Date.now();
				if (remainingMs <= 0) break;
				const waitSeconds = Math.max(0, Math.min(10, Math.floor(remainingMs / 1000)));
				try {
					last = await api.getTask(record.id, waitSeconds);
				} catch (error) {
					// fetch's "fetch failed": a keep-alive connection to the killed server may be
					// reused once. Any other error (a status other than 200, a bad body) is a failure.
					if (!(error instanceof TypeError)) throw error;
					networkErrors++;
					await delay(250);
					continue;
				}
				if (waitSeconds === 0) await delay(100);
			}
			return last;
		});

		// 7. What each task was doing at the kill, from its own record: timestamps (written by the
		// server's clock, which is ours) and attempts.
		//   terminal: it had finished;
		//   running:  an attempt was cut off: the task needed an attempt more than planned, or it
		//             ended only after that attempt's lease ran out (a flaky task whose first attempt
		//             was cut off still needs just two attempts, but waited for the lease);
		//   queued:   no attempt had started yet (the delayed tasks among them);
		//   retrying: started before and ended after the kill, no attempt cut off: between attempts.
		const ms = (iso: string | undefined) => (iso === undefined ? Number.POSITIVE_INFINITY : Date.parse(iso));
		const wrong: string[] = [];
		const killedWhile = { queued: 0, retrying: 0, running: 0, terminal: 0 };
		/** When the last task that was queued or retrying at the kill ended (no lease to wait for). */
		let lastWaitingFinished = killAt;
		finals.forEach((final, index) => {
			const planned = plans[index];
			if (!planned) throw new Error(`no plan for task ${index}`);
			const cutOff = final.attempts > planned.attempts || ms(final.finishedAt) - ms(final.startedAt) >= LEASE_SECONDS * 1000;
			if (ms(final.finishedAt) <= killAt) killedWhile.terminal++;
			else if (cutOff) killedWhile.running++;
			else if (ms(final.startedAt) > killAt) killedWhile.queued++;
			else killedWhile.retrying++;
			if (ms(final.finishedAt) > killAt && !cutOff) lastWaitingFinished = Math.max(lastWaitingFinished, ms(final.finishedAt));
			const expected = JSON.stringify(planned.result(final));
			if (final.status === "succeeded" && JSON.stringify(final.result) !== expected) {
				wrong.push(`${final.id} (${final.type}, ${final.attempts} attempts): result ${JSON.stringify(final.result)}, expected ${expected}`);
			}
		});
		const open = finals.filter((r) => !TERMINAL_STATUSES.includes(r.status));
		const lastFinished = Math.max(...finals.map((r) => ms(r.finishedAt)).filter(Number.isFinite));
		const counts = {
			accepted: records.length,
			succeeded: finals.filter((r) => r.status === "succeeded").length,
			failed: finals.filter((r) => r.status === "failed").length,
			cancelled: finals.filter((r) => r.status === "cancelled").length,
			lost: open.length,
			killedWhile,
			submitSeconds: round(submitSeconds),
			killedSecondsAfterLastSubmit: round((killAt - lastSubmitAt) / 1000),
			killTrigger,
			restartSeconds: round((healthyAt - killAt) / 1000),
			recoveredInSeconds: open.length === 0 ? round((lastFinished - killAt) / 1000) : null,
			recoveredAfterRestartInSeconds: open.length === 0 ? round((lastFinished - healthyAt) / 1000) : null,
			runningSleepsRecoveredInSeconds: round(
				(Math.max(...finals.slice(RUNNING_SLEEPS_FROM, DELAYED_FROM).map((r) => ms(r.finishedAt))) - killAt) / 1000,
			),
			queuedAndRetryingRecoveredInSeconds: open.length === 0 ? round((lastWaitingFinished - killAt) / 1000) : null,
			networkErrors,
		};
		console.log(`crash: ${JSON.stringify(counts)}`);
		if (open.length > 0 || counts.succeeded < counts.accepted) {
			// What a stuck or failed task looked like: its record (attempts, times, last error).
			const bad = finals.filter((r) => r.status !== "succeeded").slice(0, 10);
			console.error(`crash: tasks not succeeded (first ${bad.length}; kill at ${new Date(killAt).toISOString()}):`);
			for (const r of bad) console.error(JSON.stringify({ ...r, payload: undefined }));
			console.error(`--- wrangler dev log (${options.logFile}), last lines ---\n${logTail(options.logFile, 40)}\n---`);
		}

		expect(counts).toMatchObject({ accepted: TASKS, succeeded: TASKS, failed: 0, cancelled: 0, lost: 0 });
		expect(wrong).toEqual([]);
		// Every task final within 90 s of the restart, whatever its type's timeout.
		expect(lastFinished - healthyAt).toBeLessThanOrEqual(RECOVERY_DEADLINE_MS);
		// The long-timeout attempts were cut off and retried (not waited for 690 s).
		expect(finals.slice(RUNNING_SLEEPS_FROM, DELAYED_FROM).filter((r) => r.attempts >= 2).length).toBeGreaterThanOrEqual(1);
		// The kill caught what the design above arranged: tasks not started (at least the delayed
		// sleep and echo tasks), between attempts (the flaky wave) and cut off (at least sha256).
		expect(killedWhile.queued).toBeGreaterThanOrEqual(SLEEP_TASKS + DELAYED_ECHO);
		expect(killedWhile.retrying).toBeGreaterThanOrEqual(1);
		expect(killedWhile.running).toBeGreaterThanOrEqual(1);
		expect(api.serverErrors).toEqual([]);
		passed = true;
	},
);

function round(seconds: number): number {
	return Math.round(seconds * 10) / 10;
}
