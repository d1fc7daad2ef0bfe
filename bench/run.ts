// Benchmark of taskflare under `wrangler dev`, next to a measuring stick (bench/baseline: the
// least a Worker built from the same parts — one Durable Object per task, one Queue — can do).
//
//   npm run bench                      # N=3000, C=32; starts both Workers itself
//   npm run bench -- --n 300           # a quick run
//   npm run bench -- --base http://127.0.0.1:8787 --token dev-token --no-baseline
//
// Per target: (a) submit N echo tasks with C requests in flight; (b) wait until every task is
// terminal (taskflare: GET ?wait= long-polls, baseline: polling), within a deadline; (c) M
// lookups of finished tasks with C in flight; (d) idle latency: one task at a time, submit →
// terminal. Prints a table (with taskflare / baseline ratios) and writes it as JSON. Exits 1 if
// a task was lost (not terminal by the deadline), 2 on any other failure, 64 on bad options, 130
// on Ctrl-C. The details table says where time went: CPU of workerd and of wrangler per task (from
// /proc), queue batch sizes and durations (from wrangler's log), runtime restarts.
//
// Runs on Node >= 22.18 as is (type stripping): a single file, so no imports of other .ts files.
// Every `wrangler dev` it starts runs in its own process group, on a free port and a fresh
// temporary --persist-to directory, and is stopped (SIGTERM, then SIGKILL) on every way out.
// taskflare runs from a copy of src/ and its config taken at the start (--no-snapshot: from the
// working tree), because wrangler dev rebuilds and restarts the Worker whenever a source changes.
// Logs of the dev servers: bench/results/wrangler-<target>.log.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
	copyFileSync,
	cpSync,
	existsSync,
	lstatSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	statSync,
	symlinkSync,
	type FSWatcher,
	unlinkSync,
	watch,
	writeFileSync,
} from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { z } from "zod";
import {
	type DevServer,
	findFreePort,
	killGroupNow,
	logTail,
	REPO_ROOT,
	startDevServer,
	stopDevServer,
	waitUntilHealthy,
} from "../scripts/dev-server.ts";

const BASELINE_DIR = path.join(REPO_ROOT, "bench", "baseline");

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `Usage: npm run bench -- [options]
  --n N                  tasks to submit per target (3000)
  --concurrency C        requests in flight (32)
  --lookups M            lookups of finished tasks (1000)
  --latency-samples K    idle single-task latency samples (50)
  --base URL             benchmark an already running taskflare instead of starting one
  --token TOKEN          its API token (default: env API_TOKEN, else dev-token)
  --no-baseline          skip the measuring stick (bench/baseline)
  --no-snapshot          run taskflare from the working tree, not from a copy taken at the start
  --json PATH            where to write the results (bench/results/latest.json)
  --deadline S           seconds after the last submit by which every task must be terminal (300)
  --poll-interval MS     baseline: pause between polls that found the oldest tasks pending (100)
  --startup-timeout S    seconds wrangler dev may take to answer /healthz (90)
  --wrangler-log-level L wrangler dev --log-level: debug|info|log|warn|error|none (info)
  -h, --help`;

const PositiveInt = z.coerce.number().int().positive();
const NonNegativeInt = z.coerce.number().int().min(0);

const Options = z.object({
	n: PositiveInt.default(3000),
	concurrency: PositiveInt.default(32),
	lookups: NonNegativeInt.default(1000),
	latencySamples: NonNegativeInt.default(50),
	base: z.url({ protocol: /^https?$/ }).optional(),
	token: z.string().min(1).optional(),
	noBaseline: z.boolean().default(false),
	noSnapshot: z.boolean().default(false),
	json: z.string().min(1).default(path.join("bench", "results", "latest.json")),
	deadline: PositiveInt.default(300),
	pollInterval: NonNegativeInt.default(100),
	startupTimeout: PositiveInt.default(90),
	wranglerLogLevel: z.enum(["debug", "info", "log", "warn", "error", "none"]).default("info"),
});
type Options = z.infer<typeof Options>;

function readOptions(argv: readonly string[]): Options | null {
	let parsedArgs;
	try {
		parsedArgs = parseArgs({
			args: [...argv],
			strict: true,
			options: {
				n: { type: "string" },
				concurrency: { type: "string" },
				lookups: { type: "string" },
				"latency-samples": { type: "string" },
				base: { type: "string" },
				token: { type: "string" },
				"no-baseline": { type: "boolean" },
				"no-snapshot": { type: "boolean" },
				json: { type: "string" },
				deadline: { type: "string" },
				"poll-interval": { type: "string" },
				"startup-timeout": { type: "string" },
				"wrangler-log-level": { type: "string" },
				help: { type: "boolean", short: "h" },
			},
		});
	} catch (error) {
		throw new UsageError(error instanceof Error ? error.message : String(error));
	}
	const { values } = parsedArgs;
	if (values.help) return null;
	const parsed = Options.safeParse({
		n: values.n,
		concurrency: values.concurrency,
		lookups: values.lookups,
		latencySamples: values["latency-samples"],
		base: values.base?.replace(/\/+$/, ""),
		token: values.token,
		noBaseline: values["no-baseline"],
		noSnapshot: values["no-snapshot"],
		json: values.json,
		deadline: values.deadline,
		pollInterval: values["poll-interval"],
		startupTimeout: values["startup-timeout"],
		wranglerLogLevel: values["wrangler-log-level"],
	});
	if (!parsed.success) throw new UsageError(z.prettifyError(parsed.error));
	return parsed.data;
}

class UsageError extends Error {
	override name = "UsageError";
}

/** An expected way to fail (a server that does not start, refuses the token, dies): no stack. */
class BenchError extends Error {
	override name = "BenchError";
}

// ---------------------------------------------------------------------------------------------
// Clock and statistics

/** Wall-clock milliseconds (epoch), sub-millisecond resolution, monotonic within this process. */
const wallMs = (): number => performance.timeOrigin + performance.now();

type Summary = { count: number; mean: number; p50: number; p95: number; p99: number; max: number };

/** Nearest-rank percentiles; null for no samples. */
function summarize(samples: readonly number[]): Summary | null {
	if (samples.length === 0) return null;
	const sorted = [...samples].sort((a, b) => a - b);
	const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
	const sum = sorted.reduce((total, value) => total + value, 0);
	return {
		count: sorted.length,
		mean: round(sum / sorted.length),
		p50: round(rank(50)),
		p95: round(rank(95)),
		p99: round(rank(99)),
		max: round(sorted[sorted.length - 1] ?? Number.NaN),
	};
}

const round = (value: number, digits = 1): number => {
	const factor = 10 ** digits;
	return Math.round(value * factor) / factor;
};

const perSecond = (count: number, ms: number): number | null => (ms > 0 ? round((count * 1000) / ms) : null);

// ---------------------------------------------------------------------------------------------
// Progress: one line per phase, redrawn in place on a terminal (at most once a second); without
// a terminal, a line at most every 10 s, then the final one.

class Progress {
	/** The first redraw comes a period after the phase started, not at once. */
	private lastDraw = Date.now();
	private drawn = false;
	private readonly tty = process.stderr.isTTY === true;
	private readonly label: string;

	constructor(label: string) {
		this.label = label;
	}

	update(text: string): void {
		const now = Date.now();
		if (now - this.lastDraw < (this.tty ? 1000 : 10_000)) return;
		this.lastDraw = now;
		this.draw(text, false);
	}

	done(text: string): void {
		this.draw(text, true);
	}

	private draw(text: string, final: boolean): void {
		const line = `  ${this.label}: ${text}`;
		if (this.tty) {
			process.stderr.write(`\r\x1b[K${line}${final ? "\n" : ""}`);
		} else {
			process.stderr.write(`${line}\n`);
		}
		this.drawn = !final;
	}

	/** Ends an in-place line that never got its final text (on errors). */
	abandon(): void {
		if (this.tty && this.drawn) process.stderr.write("\n");
		this.drawn = false;
	}
}

// ---------------------------------------------------------------------------------------------
// Process control for `wrangler dev`
// (starting, health-checking and stopping it is shared with the e2e tests: scripts/dev-server.ts;
// this part adds temporary directories, clean-up on every way out and /proc CPU accounting)

type BenchServer = DevServer & { name: string };

/** Servers started here and not yet stopped: killed on every way out. */
const liveServers = new Set<BenchServer>();
/** Temporary --persist-to and snapshot directories to remove on the way out. */
const tempDirs = new Set<string>();

async function startWrangler(
	name: string,
	config: string,
	apiToken: string | null,
	options: Options,
	logDir: string,
): Promise<BenchServer> {
	const persistTo = mkdtempSync(path.join(os.tmpdir(), `taskflare-bench-${name}-`));
	tempDirs.add(persistTo);
	const logFile = path.join(logDir, `wrangler-${name}.log`);
	// The shared helper appends (a restarted server keeps its log); a bench run starts a fresh one.
	rmSync(logFile, { force: true });
	let server: BenchServer;
	try {
		const port = await findFreePort();
		server = { name, ...(await startDevServer({ port, persistTo, logFile, apiToken, config, logLevel: options.wranglerLogLevel })) };
	} catch (error) {
		throw new BenchError(`could not start wrangler dev for ${name}: ${describe(error)}`);
	}
	liveServers.add(server);
	return server;
}

async function waitHealthy(server: BenchServer, timeoutMs: number): Promise<void> {
	try {
		await waitUntilHealthy(server, timeoutMs);
	} catch (error) {
		throw new BenchError(`wrangler dev (${server.name}): ${describe(error)}\n${logTail(server.logFile)}`);
	}
}

/** How wrangler ended, for messages; null while it runs. */
function exitText(server: BenchServer): string | null {
	const exit = server.exitStatus();
	if (exit === null) return null;
	return exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
}

async function stopServer(server: BenchServer): Promise<void> {
	await stopDevServer(server, { graceMs: 5000 }).catch(() => undefined);
	liveServers.delete(server);
	removeTempDir(server.persistTo);
}

type GroupProcess = { pid: number; command: string; userMs: number; systemMs: number };

const CLOCK_TICKS_PER_SECOND = (() => {
	try {
		return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
	} catch {
		return 100;
	}
})();

/**
 * The live processes of a process group, from /proc (zombies, exited but not yet reaped by the
 * container's pid 1, do not count). Null where there is no /proc.
 */
function groupProcesses(pgid: number): GroupProcess[] | null {
	if (!existsSync("/proc/self/stat")) return null;
	const found: GroupProcess[] = [];
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		let stat: string;
		try {
			stat = readFileSync(`/proc/${entry}/stat`, "utf8");
		} catch {
			continue; // Exited while we looked.
		}
		// "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …";
		// comm may contain spaces and parentheses.
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		const [state, , pgrp] = fields;
		if (Number(pgrp) !== pgid || state === "Z" || state === "X") continue;
		const ms = (field: string | undefined) => (Number(field) * 1000) / CLOCK_TICKS_PER_SECOND;
		found.push({
			pid: Number(entry),
			command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
			userMs: ms(fields[11]),
			systemMs: ms(fields[12]),
		});
	}
	return found;
}

const groupPids = (pgid: number, command: string): number[] =>
	(groupProcesses(pgid) ?? []).filter((member) => member.command === command).map((member) => member.pid);

/**
 * Counts workerd processes that appear after the start: wrangler dev replaces its runtime process
 * when it rebuilds the Worker (any watched file changed) or the runtime crashed. In-flight POSTs
 * then fail with 503 and the local queue's in-memory messages are gone.
 */
function watchRuntimeRestarts(pgid: number): { restarts: () => number; stop: () => void } {
	const known = new Set(groupPids(pgid, "workerd"));
	let restarts = 0;
	const timer = setInterval(() => {
		for (const pid of groupPids(pgid, "workerd")) {
			if (!known.has(pid)) {
				known.add(pid);
				restarts += 1;
			}
		}
	}, 500);
	timer.unref();
	return { restarts: () => restarts, stop: () => clearInterval(timer) };
}

function removeTempDir(dir: string): void {
	try {
		// A snapshot's node_modules is a symlink to the repository's: unlink it first, explicitly.
		const link = path.join(dir, "node_modules");
		if (existsSync(link) && lstatSync(link).isSymbolicLink()) unlinkSync(link);
		rmSync(dir, { recursive: true, force: true });
	} catch {
		// Best effort: it is in the system's temporary directory.
	}
	tempDirs.delete(dir);
}

/** Last resort, synchronous: SIGKILL every group still alive and remove temporary directories. */
function killEverythingNow(): void {
	for (const server of liveServers) killGroupNow(server.pid);
	liveServers.clear();
	for (const dir of [...tempDirs]) removeTempDir(dir);
}

async function stopEverything(): Promise<void> {
	await Promise.all([...liveServers].map(stopServer));
	killEverythingNow();
}

function errorCode(error: unknown): string | undefined {
	return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

function describe(error: unknown): string {
	if (error instanceof Error) return `${error.name}: ${error.message}${errorCode(error) ? ` (${errorCode(error)})` : ""}`;
	return String(error);
}

// ---------------------------------------------------------------------------------------------
// HTTP (node:http with keep-alive: far cheaper per request than fetch, on a 2-core machine the
// client competes with wrangler for CPU)

type HttpResponse = { status: number; text: string };

function send(
	agent: Agent,
	baseUrl: string,
	method: "GET" | "POST",
	pathAndQuery: string,
	{ body, headers = {}, timeoutMs }: { body?: string; headers?: Readonly<Record<string, string>>; timeoutMs: number },
): Promise<HttpResponse> {
	return new Promise((resolve, reject) => {
		const url = new URL(pathAndQuery, baseUrl);
		const outgoing: Record<string, string> = { ...headers };
		if (body !== undefined) {
			outgoing["content-type"] = "application/json";
			outgoing["content-length"] = String(Buffer.byteLength(body));
		}
		const req = httpRequest(url, { method, agent, headers: outgoing }, (res) => {
			const chunks: Buffer[] = [];
			res.on("data", (chunk: Buffer) => chunks.push(chunk));
			res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
			res.on("error", reject);
		});
		req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url.pathname} timed out after ${timeoutMs} ms`)));
		req.on("error", reject);
		req.end(body);
	});
}

function parseJson<T>(schema: z.ZodType<T>, text: string): T {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		throw new Error(`not JSON: ${text.slice(0, 200)}`);
	}
	return schema.parse(value);
}

// ---------------------------------------------------------------------------------------------
// Targets: how to talk to taskflare and to the baseline

/** A task as far as the benchmark cares. Times are epoch milliseconds (the server's clock). */
type TaskView = { id: string; terminal: boolean; ok: boolean; status: string; createdAt: number; startedAt?: number; finishedAt?: number };

const isoMs = z.iso.datetime().transform((text) => Date.parse(text));

const TaskflareRecord = z.object({
	id: z.string(),
	status: z.enum(["queued", "running", "retrying", "succeeded", "failed", "cancelled"]),
	createdAt: isoMs,
	startedAt: isoMs.optional(),
	finishedAt: isoMs.optional(),
});

const BaselineRecord = z.object({
	id: z.string(),
	status: z.enum(["queued", "done"]),
	createdAt: isoMs,
	finishedAt: isoMs.optional(),
});

const BaselineCreated = z.object({ id: z.string() });

type Target = {
	name: "taskflare" | "baseline";
	baseUrl: string;
	agent: Agent;
	headers: Readonly<Record<string, string>>;
	submitPath: string;
	taskPath: (id: string) => string;
	/** taskflare: `GET …?wait=N`; the baseline is polled. */
	supportsWait: boolean;
	parseSubmit: (text: string) => string;
	parseTask: (text: string) => TaskView;
	/** Throws if a server this run started has died (then nothing more can be measured). */
	checkAlive: () => void;
};

function taskflareTarget(baseUrl: string, token: string, concurrency: number, checkAlive: () => void): Target {
	const view = (text: string): TaskView => {
		const record = parseJson(TaskflareRecord, text);
		const terminal = record.status === "succeeded" || record.status === "failed" || record.status === "cancelled";
		return { ...record, terminal, ok: record.status === "succeeded" };
	};
	return {
		name: "taskflare",
		baseUrl,
		agent: new Agent({ keepAlive: true, maxSockets: concurrency + 4 }),
		headers: { authorization: `Bearer ${token}` },
		submitPath: "/v1/tasks",
		taskPath: (id) => `/v1/tasks/${id}`,
		supportsWait: true,
		parseSubmit: (text) => view(text).id,
		parseTask: view,
		checkAlive,
	};
}

function baselineTarget(baseUrl: string, concurrency: number, checkAlive: () => void): Target {
	return {
		name: "baseline",
		baseUrl,
		agent: new Agent({ keepAlive: true, maxSockets: concurrency + 4 }),
		headers: {},
		submitPath: "/tasks",
		taskPath: (id) => `/tasks/${id}`,
		supportsWait: false,
		parseSubmit: (text) => parseJson(BaselineCreated, text).id,
		parseTask: (text) => {
			const record = parseJson(BaselineRecord, text);
			return { ...record, terminal: record.status === "done", ok: record.status === "done" };
		},
		checkAlive,
	};
}

/** Runs `worker` on `concurrency` lanes until it returns false on every lane. */
async function pool(concurrency: number, worker: (lane: number) => Promise<boolean>): Promise<void> {
	await Promise.all(
		Array.from({ length: concurrency }, async (_, lane) => {
			while (await worker(lane)) {
				// Next item.
			}
		}),
	);
}

/** Remembers the first few distinct error messages of a phase (for the report). */
class ErrorLog {
	count = 0;
	readonly samples: string[] = [];

	add(message: string): void {
		this.count += 1;
		if (this.samples.length < 5 && !this.samples.includes(message)) this.samples.push(message);
	}
}

// ---------------------------------------------------------------------------------------------
// Phases

type Submitted = { id: string; submitStart: number; submitEnd: number };

type SubmitPhase = {
	requested: number;
	accepted: number;
	errors: number;
	errorSamples: string[];
	durationMs: number;
	perSecond: number | null;
	latencyMs: Summary | null;
	firstStart: number;
	lastEnd: number;
};

async function submitPhase(target: Target, n: number, concurrency: number): Promise<{ phase: SubmitPhase; tasks: Submitted[] }> {
	const progress = new Progress(`${target.name} submit`);
	const tasks: Submitted[] = [];
	const latencies: number[] = [];
	const errors = new ErrorLog();
	let next = 0;
	let firstStart = Number.POSITIVE_INFINITY;
	let lastEnd = 0;
	const started = wallMs();
	try {
		await pool(concurrency, async () => {
			const index = next++;
			if (index >= n) return false;
			const body = JSON.stringify({ type: "echo", payload: { bench: "load", index } });
			const start = wallMs();
			firstStart = Math.min(firstStart, start);
			try {
				const response = await send(target.agent, target.baseUrl, "POST", target.submitPath, {
					body,
					headers: target.headers,
					timeoutMs: 60_000,
				});
				const end = wallMs();
				lastEnd = Math.max(lastEnd, end);
				latencies.push(end - start);
				if (response.status !== 202) {
					errors.add(`POST answered ${response.status}: ${response.text.slice(0, 200)}`);
				} else {
					tasks.push({ id: target.parseSubmit(response.text), submitStart: start, submitEnd: end });
				}
			} catch (error) {
				lastEnd = Math.max(lastEnd, wallMs());
				target.checkAlive();
				errors.add(describe(error));
			}
			const elapsed = wallMs() - started;
			progress.update(`${tasks.length + errors.count}/${n} answered, ${errors.count} errors, ${perSecond(tasks.length, elapsed) ?? 0}/s`);
			return true;
		});
	} catch (error) {
		progress.abandon();
		throw error;
	}
	const durationMs = lastEnd - firstStart;
	const phase: SubmitPhase = {
		requested: n,
		accepted: tasks.length,
		errors: errors.count,
		errorSamples: errors.samples,
		durationMs: round(durationMs),
		perSecond: perSecond(tasks.length, durationMs),
		latencyMs: summarize(latencies),
		firstStart,
		lastEnd,
	};
	progress.done(`${tasks.length}/${n} accepted in ${(durationMs / 1000).toFixed(1)} s (${phase.perSecond ?? "-"}/s), ${errors.count} errors`);
	return { phase, tasks };
}

type CompletionPhase = {
	terminal: number;
	succeeded: number;
	failed: number;
	lost: number;
	lostIds: string[];
	requests: number;
	httpErrors: number;
	errorSamples: string[];
	waitedMs: number;
	completedPerSecond: number | null;
	drainSeconds: number | null;
	/** finishedAt − createdAt, from the records. */
	completionMs: Summary | null;
	/** taskflare only: startedAt − createdAt (time in the queue) and finishedAt − startedAt. */
	queueWaitMs: Summary | null;
	runMs: Summary | null;
	/** Tasks not yet finished when the last submit was answered: how far the consumer lagged. */
	backlogAtLastSubmit: number;
	/** Terminal tasks / (last finishedAt − first finishedAt): the consumer's own rate. */
	consumeRatePerSecond: number | null;
	/** Tasks finished in each second after the first submit started (index = second). */
	finishedPerSecond: number[];
};

async function completionPhase(
	target: Target,
	submitted: readonly Submitted[],
	submit: SubmitPhase,
	options: Options,
): Promise<{ phase: CompletionPhase; finished: TaskView[] }> {
	const progress = new Progress(`${target.name} wait`);
	const deadline = submit.lastEnd + options.deadline * 1000;
	const finished = new Map<string, TaskView>();
	const errors = new ErrorLog();
	let requests = 0;
	let failed = 0;
	const started = wallMs();
	const report = () =>
		`${finished.size}/${submitted.length} terminal, ${failed} failed, ${requests} requests, ` +
		`${Math.max(0, Math.round((deadline - wallMs()) / 1000))} s to the deadline`;
	/** One GET (with ?wait=N when given); records the task if it is terminal. */
	const check = async (id: string, waitSeconds: number | null): Promise<"terminal" | "pending" | "error"> => {
		requests += 1;
		let task: TaskView;
		try {
			const query = waitSeconds === null ? "" : `?wait=${waitSeconds}`;
			const response = await send(target.agent, target.baseUrl, "GET", `${target.taskPath(id)}${query}`, {
				headers: target.headers,
				timeoutMs: ((waitSeconds ?? 0) + 30) * 1000,
			});
			if (response.status !== 200) {
				errors.add(`GET answered ${response.status}: ${response.text.slice(0, 200)}`);
				return "error";
			}
			task = target.parseTask(response.text);
		} catch (error) {
			target.checkAlive();
			errors.add(describe(error));
			return "error";
		} finally {
			progress.update(report());
		}
		if (!task.terminal) return "pending";
		finished.set(id, task);
		if (!task.ok) failed += 1;
		return "terminal";
	};
	try {
		if (target.supportsWait) await collectByWaiting(submitted, options.concurrency, deadline, check);
		else await collectByPolling(submitted, options, deadline, check);
	} catch (error) {
		progress.abandon();
		throw error;
	}
	const waitedMs = wallMs() - started;
	const views = [...finished.values()];
	const lostIds = submitted.map((task) => task.id).filter((id) => !finished.has(id));
	const finishedAts = views.flatMap((task) => (task.finishedAt === undefined ? [] : [task.finishedAt]));
	const lastFinished = finishedAts.length > 0 ? Math.max(...finishedAts) : null;
	const firstFinished = finishedAts.length > 0 ? Math.min(...finishedAts) : null;
	const histogram: number[] = [];
	for (const at of finishedAts) {
		const second = Math.max(0, Math.floor((at - submit.firstStart) / 1000));
		while (histogram.length <= second) histogram.push(0);
		histogram[second] = (histogram[second] ?? 0) + 1;
	}
	const between = (from: (task: TaskView) => number | undefined, to: (task: TaskView) => number | undefined) =>
		summarize(
			views.flatMap((task) => {
				const [a, b] = [from(task), to(task)];
				return a === undefined || b === undefined ? [] : [b - a];
			}),
		);
	const phase: CompletionPhase = {
		terminal: views.length,
		succeeded: views.filter((task) => task.ok).length,
		failed,
		lost: lostIds.length,
		lostIds: lostIds.slice(0, 20),
		requests,
		httpErrors: errors.count,
		errorSamples: errors.samples,
		waitedMs: round(waitedMs),
		completedPerSecond: lastFinished === null ? null : perSecond(views.length, lastFinished - submit.firstStart),
		drainSeconds: lastFinished === null ? null : round((lastFinished - submit.lastEnd) / 1000, 2),
		completionMs: between(
			(task) => task.createdAt,
			(task) => task.finishedAt,
		),
		queueWaitMs: target.name === "taskflare" ? between((task) => task.createdAt, (task) => task.startedAt) : null,
		runMs: target.name === "taskflare" ? between((task) => task.startedAt, (task) => task.finishedAt) : null,
		backlogAtLastSubmit: submitted.length - finishedAts.filter((at) => at <= submit.lastEnd).length,
		consumeRatePerSecond:
			lastFinished === null || firstFinished === null ? null : perSecond(views.length, lastFinished - firstFinished),
		finishedPerSecond: histogram,
	};
	progress.done(report().replace(/, \d+ s to the deadline$/, "") + (phase.lost > 0 ? `, ${phase.lost} LOST` : ""));
	return { phase, finished: views };
}

type Check = (id: string, waitSeconds: number | null) => Promise<"terminal" | "pending" | "error">;

/** taskflare: C long-polls (`?wait=`) in flight; a task still pending after its wait goes to the back. */
async function collectByWaiting(submitted: readonly Submitted[], concurrency: number, deadline: number, check: Check): Promise<void> {
	const pending = submitted.map((task) => task.id);
	await pool(concurrency, async () => {
		const remainingMs = deadline - wallMs();
		const id = remainingMs > 0 ? pending.shift() : undefined;
		if (id === undefined) return false;
		const outcome = await check(id, Math.max(1, Math.min(30, Math.floor(remainingMs / 1000))));
		if (outcome !== "terminal") pending.push(id);
		if (outcome === "error") await sleep(200);
		return true;
	});
}

/**
 * The baseline has no long-poll, and polling costs the server the same CPU the consumer needs, so
 * it polls sparingly (completion times come from the records, not from when the poll saw them):
 * the oldest pending tasks in submit order, 1 at first, twice as many after every round in which
 * all were done (up to C), back to 1 and a pause of --poll-interval after any round that was not.
 * If the oldest task stays pending for 10 s (lost?), every pending task is checked once (C in
 * flight), so the rest are still found (then after 20 s, 40 s, …); likewise at the deadline.
 */
async function collectByPolling(submitted: readonly Submitted[], options: Options, deadline: number, check: Check): Promise<void> {
	let pending = submitted.map((task) => task.id);
	const sweep = async (ids: readonly string[]) => {
		const done = new Set<string>();
		let next = 0;
		await pool(options.concurrency, async () => {
			const id = ids[next++];
			if (id === undefined) return false;
			if ((await check(id, null)) === "terminal") done.add(id);
			return true;
		});
		return done;
	};
	let window = 1;
	let head = pending[0];
	let headSince = wallMs();
	let stuckAfterMs = 10_000;
	while (pending.length > 0 && wallMs() < deadline) {
		if (pending[0] !== head) {
			head = pending[0];
			headSince = wallMs();
		}
		const fullSweep = wallMs() - headSince > stuckAfterMs;
		const ids = fullSweep ? pending : pending.slice(0, window);
		const done = await sweep(ids);
		pending = pending.filter((id) => !done.has(id));
		if (fullSweep) {
			// Costly (one request per pending task): each further one waits twice as long.
			headSince = wallMs();
			stuckAfterMs *= 2;
		}
		if (!fullSweep && done.size === ids.length) {
			window = Math.min(options.concurrency, window * 2);
		} else {
			window = 1;
			await sleep(Math.min(options.pollInterval, Math.max(0, deadline - wallMs())));
		}
	}
	if (pending.length > 0) await sweep(pending);
}

type LookupPhase = {
	requested: number;
	ok: number;
	errors: number;
	errorSamples: string[];
	durationMs: number;
	perSecond: number | null;
	latencyMs: Summary | null;
};

async function lookupPhase(target: Target, finished: readonly TaskView[], m: number, concurrency: number): Promise<LookupPhase> {
	const progress = new Progress(`${target.name} lookups`);
	const latencies: number[] = [];
	const errors = new ErrorLog();
	let next = 0;
	let ok = 0;
	const started = wallMs();
	if (finished.length > 0) {
		try {
			await pool(concurrency, async () => {
				if (next >= m) return false;
				next += 1;
				const task = finished[Math.floor(Math.random() * finished.length)];
				if (task === undefined) return false;
				const start = wallMs();
				try {
					const response = await send(target.agent, target.baseUrl, "GET", target.taskPath(task.id), {
						headers: target.headers,
						timeoutMs: 60_000,
					});
					latencies.push(wallMs() - start);
					if (response.status === 200 && target.parseTask(response.text).terminal) ok += 1;
					else errors.add(`GET answered ${response.status}: ${response.text.slice(0, 200)}`);
				} catch (error) {
					target.checkAlive();
					errors.add(describe(error));
				}
				progress.update(`${latencies.length + errors.count}/${m}`);
				return true;
			});
		} catch (error) {
			progress.abandon();
			throw error;
		}
	}
	const durationMs = wallMs() - started;
	const phase: LookupPhase = {
		requested: m,
		ok,
		errors: errors.count,
		errorSamples: errors.samples,
		durationMs: round(durationMs),
		perSecond: perSecond(latencies.length, durationMs),
		latencyMs: summarize(latencies),
	};
	progress.done(`${ok}/${m} in ${(durationMs / 1000).toFixed(1)} s (${phase.perSecond ?? "-"}/s), ${errors.count} errors`);
	return phase;
}

type IdlePhase = {
	samples: number;
	ok: number;
	failed: number;
	lost: number;
	errorSamples: string[];
	/** Client wall time: submit sent → terminal record received. */
	latencyMs: Summary | null;
	/** finishedAt − createdAt of the same tasks. */
	serverMs: Summary | null;
};

/** One task at a time: submit, then wait (taskflare: ?wait=10; baseline: poll every 20 ms). */
async function idlePhase(target: Target, samples: number): Promise<IdlePhase> {
	const progress = new Progress(`${target.name} idle latency`);
	const wall: number[] = [];
	const server: number[] = [];
	const errors = new ErrorLog();
	let ok = 0;
	let failed = 0;
	let lost = 0;
	const perTaskDeadlineMs = 60_000;
	for (let sample = 0; sample < samples; sample += 1) {
		const start = wallMs();
		try {
			const body = JSON.stringify({ type: "echo", payload: { bench: "idle", sample } });
			const created = await send(target.agent, target.baseUrl, "POST", target.submitPath, { body, headers: target.headers, timeoutMs: 60_000 });
			if (created.status !== 202) {
				errors.add(`POST answered ${created.status}: ${created.text.slice(0, 200)}`);
				failed += 1;
				continue;
			}
			const id = target.parseSubmit(created.text);
			let task: TaskView | null = null;
			while (wallMs() - start < perTaskDeadlineMs) {
				const query = target.supportsWait ? "?wait=10" : "";
				const response = await send(target.agent, target.baseUrl, "GET", `${target.taskPath(id)}${query}`, {
					headers: target.headers,
					timeoutMs: 40_000,
				});
				if (response.status !== 200) throw new Error(`GET answered ${response.status}: ${response.text.slice(0, 200)}`);
				const view = target.parseTask(response.text);
				if (view.terminal) {
					task = view;
					break;
				}
				if (!target.supportsWait) await sleep(20);
			}
			if (task === null) {
				lost += 1;
				continue;
			}
			wall.push(wallMs() - start);
			if (task.finishedAt !== undefined) server.push(task.finishedAt - task.createdAt);
			if (task.ok) ok += 1;
			else failed += 1;
		} catch (error) {
			target.checkAlive();
			errors.add(describe(error));
			failed += 1;
		}
		progress.update(`${sample + 1}/${samples}`);
	}
	const phase: IdlePhase = {
		samples,
		ok,
		failed,
		lost,
		errorSamples: errors.samples,
		latencyMs: summarize(wall),
		serverMs: summarize(server),
	};
	progress.done(`${wall.length}/${samples} done, p50 ${phase.latencyMs?.p50 ?? "-"} ms, p99 ${phase.latencyMs?.p99 ?? "-"} ms`);
	return phase;
}

// ---------------------------------------------------------------------------------------------
// Where the time goes (Linux only, else null): CPU time of the server's process group by command
// (workerd, node = wrangler itself), of this client, and the whole machine's split of time
// (user, system, iowait, idle: other engineers' processes count too).

type CpuTimes = { user: number; system: number };

type CpuSnapshot = {
	at: number;
	server: Record<string, CpuTimes> | null;
	clientMs: number;
	machine: { user: number; system: number; iowait: number; idle: number; total: number } | null;
};

type PhaseCpu = {
	wallMs: number;
	/** CPU milliseconds per command name in the server's process group (user, system). */
	serverCpuMs: Record<string, CpuTimes> | null;
	clientCpuMs: number;
	/** Percent of all cores' time, machine-wide. */
	machinePercent: { user: number; system: number; iowait: number; idle: number } | null;
};

function groupCpuMs(pgid: number): Record<string, CpuTimes> | null {
	const processes = groupProcesses(pgid);
	if (processes === null) return null;
	const byCommand: Record<string, CpuTimes> = {};
	for (const { command, userMs, systemMs } of processes) {
		const sum = byCommand[command] ?? { user: 0, system: 0 };
		byCommand[command] = { user: sum.user + userMs, system: sum.system + systemMs };
	}
	return byCommand;
}

function machineTimes(): CpuSnapshot["machine"] {
	try {
		const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
		const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
		const total = user + nice + system + idle + iowait + irq + softirq + steal;
		return { user: user + nice, system: system + irq + softirq, iowait, idle, total };
	} catch {
		return null;
	}
}

function cpuSnapshot(pgid: number | null): CpuSnapshot {
	const usage = process.cpuUsage();
	return {
		at: wallMs(),
		server: pgid === null ? null : groupCpuMs(pgid),
		clientMs: (usage.user + usage.system) / 1000,
		machine: machineTimes(),
	};
}

function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): PhaseCpu {
	let serverCpuMs: Record<string, CpuTimes> | null = null;
	if (a.server && b.server) {
		serverCpuMs = {};
		for (const [command, times] of Object.entries(b.server)) {
			const before = a.server[command] ?? { user: 0, system: 0 };
			serverCpuMs[command] = { user: round(times.user - before.user, 0), system: round(times.system - before.system, 0) };
		}
	}
	let machinePercent: PhaseCpu["machinePercent"] = null;
	if (a.machine && b.machine && b.machine.total > a.machine.total) {
		const total = b.machine.total - a.machine.total;
		const pct = (key: "user" | "system" | "iowait" | "idle") => round(((b.machine?.[key] ?? 0) - (a.machine?.[key] ?? 0)) * 100 / total);
		machinePercent = { user: pct("user"), system: pct("system"), iowait: pct("iowait"), idle: pct("idle") };
	}
	return { wallMs: round(b.at - a.at), serverCpuMs, clientCpuMs: round(b.clientMs - a.clientMs, 0), machinePercent };
}

/**
 * Watches a Worker's sources while it is measured: wrangler dev rebuilds and reloads the Worker on
 * every change (and says nothing about it at --log-level info), which would skew the numbers.
 */
function watchSources(paths: readonly string[]): { changed: () => string[]; close: () => void } {
	const changed = new Set<string>();
	const watchers: FSWatcher[] = [];
	for (const target of paths) {
		try {
			const isDirectory = statSync(target).isDirectory();
			const watcher = watch(target, { recursive: isDirectory, persistent: false }, (_event, file) => {
				const changedPath = isDirectory && file !== null ? path.join(target, file.toString()) : target;
				if (changed.size < 20) changed.add(path.relative(REPO_ROOT, changedPath));
			});
			watcher.on("error", () => undefined);
			watchers.push(watcher);
		} catch {
			// Not watchable here: the run goes on without the check.
		}
	}
	return {
		changed: () => [...changed],
		close: () => {
			for (const watcher of watchers) watcher.close();
		},
	};
}

/**
 * A copy of taskflare's Worker as it is now (src/, wrangler.toml, and the package.json and
 * tsconfig.json that esbuild reads), in a temporary directory whose node_modules is a symlink to
 * the repository's. wrangler dev runs the copy, so edits made to these files while the benchmark
 * runs (other people's) neither reload nor change the measured Worker. (A change inside
 * node_modules still would: runtime restarts are counted and reported.)
 */
function snapshotWorker(): { dir: string; sha256: string } {
	const dir = mkdtempSync(path.join(os.tmpdir(), "taskflare-bench-snapshot-"));
	tempDirs.add(dir);
	cpSync(path.join(REPO_ROOT, "src"), path.join(dir, "src"), { recursive: true });
	for (const file of ["wrangler.toml", "package.json", "tsconfig.json"]) {
		if (existsSync(path.join(REPO_ROOT, file))) copyFileSync(path.join(REPO_ROOT, file), path.join(dir, file));
	}
	const hash = createHash("sha256");
	const walk = (at: string) => {
		for (const entry of readdirSync(at, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
			const full = path.join(at, entry.name);
			if (entry.isDirectory()) walk(full);
			else if (entry.isFile()) hash.update(`${path.relative(dir, full)}\0`).update(readFileSync(full)).update("\0");
		}
	};
	walk(dir);
	symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
	return { dir, sha256: hash.digest("hex").slice(0, 16) };
}

/** Files and bytes under the --persist-to directory (one SQLite database per Durable Object). */
function diskUsage(dir: string): { files: number; bytes: number } | null {
	if (!existsSync(dir)) return null;
	let files = 0;
	let bytes = 0;
	const walk = (at: string) => {
		for (const entry of readdirSync(at, { withFileTypes: true })) {
			const full = path.join(at, entry.name);
			if (entry.isDirectory()) walk(full);
			else if (entry.isFile()) {
				files += 1;
				bytes += statSync(full).size;
			}
		}
	};
	walk(dir);
	return { files, bytes };
}

// ---------------------------------------------------------------------------------------------
// One target, end to end

type QueueLogStats = { batches: number; messages: number; batchSize: Summary | null; batchMs: Summary | null };

type TargetResult = {
	target: string;
	baseUrl: string;
	startedHere: boolean;
	startupMs: number | null;
	wallMs: number;
	submit: SubmitPhase;
	completion: CompletionPhase;
	lookups: LookupPhase;
	idle: IdlePhase;
	/** Parsed from wrangler's log ("QUEUE <name> <acked>/<size> (<ms>ms)"), when started here. */
	queueBatches: QueueLogStats | null;
	/** CPU and machine time per phase (see PhaseCpu); "load" = submit + wait. */
	cpu: { load: PhaseCpu; lookups: PhaseCpu; idle: PhaseCpu };
	/** The --persist-to directory at the end, when started here. */
	persisted: { files: number; bytes: number } | null;
	/** Source files that changed in the working tree while this target was measured. */
	sourceChanges: string[];
	/** workerd processes replaced while measured (wrangler dev reloads; null: not started here). */
	runtimeRestarts: number | null;
	/** Set when wrangler dev ran a copy of src/ and wrangler.toml taken at the start (hash of it). */
	snapshot: { sha256: string } | null;
	failed: number;
	lost: number;
};

/** wrangler dev logs each consumer invocation as `QUEUE <queue> <acked>/<size> (<duration>ms)`. */
function queueLogStats(logFile: string): QueueLogStats | null {
	if (!existsSync(logFile)) return null;
	const sizes: number[] = [];
	const durations: number[] = [];
	for (const match of readFileSync(logFile, "utf8").matchAll(/QUEUE \S+ (\d+)\/(\d+) \((\d+)ms\)/g)) {
		sizes.push(Number(match[2]));
		durations.push(Number(match[3]));
	}
	if (sizes.length === 0) return null;
	return {
		batches: sizes.length,
		messages: sizes.reduce((sum, size) => sum + size, 0),
		batchSize: summarize(sizes),
		batchMs: summarize(durations),
	};
}

async function benchTarget(target: Target, options: Options, server: DevServer | null, startupMs: number | null): Promise<TargetResult> {
	const started = wallMs();
	process.stderr.write(`${target.name} at ${target.baseUrl}\n`);
	const pgid = server?.pid ?? null;
	const cpu0 = cpuSnapshot(pgid);
	const { phase: submit, tasks } = await submitPhase(target, options.n, options.concurrency);
	const { phase: completion, finished } = await completionPhase(target, tasks, submit, options);
	const cpu1 = cpuSnapshot(pgid);
	const lookups = await lookupPhase(target, finished, options.lookups, options.concurrency);
	const cpu2 = cpuSnapshot(pgid);
	const idle = await idlePhase(target, options.latencySamples);
	const cpu3 = cpuSnapshot(pgid);
	return {
		target: target.name,
		baseUrl: target.baseUrl,
		startedHere: server !== null,
		startupMs,
		wallMs: round(wallMs() - started),
		submit,
		completion,
		lookups,
		idle,
		queueBatches: server === null ? null : queueLogStats(server.logFile),
		cpu: { load: cpuBetween(cpu0, cpu1), lookups: cpuBetween(cpu1, cpu2), idle: cpuBetween(cpu2, cpu3) },
		persisted: server === null ? null : diskUsage(server.persistTo),
		sourceChanges: [],
		snapshot: null,
		runtimeRestarts: null,
		failed: submit.errors + completion.failed + idle.failed,
		lost: completion.lost + idle.lost,
	};
}

/** Starts wrangler dev (unless `base`), checks the server, runs the phases, stops the server. */
async function runTarget(
	name: "taskflare" | "baseline",
	options: Options,
	logDir: string,
	token: string,
	base: string | undefined,
): Promise<TargetResult> {
	let server: BenchServer | null = null;
	let startupMs: number | null = null;
	// Watched from before the build until the end: a change makes wrangler dev reload the Worker.
	let snapshot: { dir: string; sha256: string } | null = null;
	const workerDir = name === "taskflare" ? REPO_ROOT : BASELINE_DIR;
	const sources = base === undefined ? watchSources([path.join(workerDir, "src"), path.join(workerDir, "wrangler.toml")]) : null;
	try {
		let baseUrl: string;
		if (base === undefined) {
			if (name === "taskflare" && !options.noSnapshot) snapshot = snapshotWorker();
			const config = path.join(snapshot?.dir ?? workerDir, "wrangler.toml");
			const t0 = wallMs();
			server = await startWrangler(name, config, name === "taskflare" ? token : null, options, logDir);
			new Progress(`${name} wrangler dev`).done(`pid ${server.pid}, ${server.baseUrl}, log ${path.relative(process.cwd(), server.logFile)}`);
			await waitHealthy(server, options.startupTimeout * 1000);
			startupMs = round(wallMs() - t0);
			baseUrl = server.baseUrl;
		} else {
			baseUrl = base;
		}
		const runtime = server === null ? null : watchRuntimeRestarts(server.pid);
		const running = server;
		const checkAlive = () => {
			const exit = running === null ? null : exitText(running);
			if (running !== null && exit !== null) throw new BenchError(`wrangler dev (${name}) ended (${exit})\n${logTail(running.logFile)}`);
		};
		const target =
			name === "taskflare"
				? taskflareTarget(baseUrl, token, options.concurrency, checkAlive)
				: baselineTarget(baseUrl, options.concurrency, checkAlive);
		try {
			await preflight(target);
			const result = await benchTarget(target, options, server, startupMs);
			result.sourceChanges = sources?.changed() ?? [];
			result.runtimeRestarts = runtime?.restarts() ?? null;
			result.snapshot = snapshot === null ? null : { sha256: snapshot.sha256 };
			return result;
		} finally {
			runtime?.stop();
			target.agent.destroy();
		}
	} finally {
		sources?.close();
		if (server !== null) await stopServer(server);
		if (snapshot !== null) removeTempDir(snapshot.dir);
	}
}

/** An authenticated lookup of an id no task has: 404 proves the route and the token work. */
async function preflight(target: Target): Promise<void> {
	const response = await send(target.agent, target.baseUrl, "GET", target.taskPath("0".repeat(64)), {
		headers: target.headers,
		timeoutMs: 30_000,
	});
	if (response.status === 401) throw new BenchError(`${target.name} refused the API token (401); pass --token or set API_TOKEN`);
	if (response.status !== 404) {
		throw new BenchError(`${target.name}: GET of an unknown task answered ${response.status}, not 404: ${response.text.slice(0, 300)}`);
	}
}

// ---------------------------------------------------------------------------------------------
// Report

type Row = { label: string; value: (result: TargetResult) => number | null; digits: number };

const ROWS: readonly Row[] = [
	{ label: "submit/s", value: (r) => r.submit.perSecond, digits: 1 },
	{ label: "submit p50 ms", value: (r) => r.submit.latencyMs?.p50 ?? null, digits: 1 },
	{ label: "submit p95 ms", value: (r) => r.submit.latencyMs?.p95 ?? null, digits: 1 },
	{ label: "submit p99 ms", value: (r) => r.submit.latencyMs?.p99 ?? null, digits: 1 },
	{ label: "completed/s", value: (r) => r.completion.completedPerSecond, digits: 1 },
	{ label: "drain s", value: (r) => r.completion.drainSeconds, digits: 2 },
	{ label: "completion p50 ms", value: (r) => r.completion.completionMs?.p50 ?? null, digits: 0 },
	{ label: "completion p99 ms", value: (r) => r.completion.completionMs?.p99 ?? null, digits: 0 },
	{ label: "lookup p50 ms", value: (r) => r.lookups.latencyMs?.p50 ?? null, digits: 1 },
	{ label: "lookup p99 ms", value: (r) => r.lookups.latencyMs?.p99 ?? null, digits: 1 },
	{ label: "idle latency p50 ms", value: (r) => r.idle.latencyMs?.p50 ?? null, digits: 0 },
	{ label: "idle latency p99 ms", value: (r) => r.idle.latencyMs?.p99 ?? null, digits: 0 },
	{ label: "failed", value: (r) => r.failed, digits: 0 },
	{ label: "lost", value: (r) => r.lost, digits: 0 },
];

const DETAIL_ROWS: readonly Row[] = [
	{ label: "lookups/s", value: (r) => r.lookups.perSecond, digits: 1 },
	{ label: "consume rate/s (first→last finish)", value: (r) => r.completion.consumeRatePerSecond, digits: 1 },
	{ label: "backlog when last submit answered", value: (r) => r.completion.backlogAtLastSubmit, digits: 0 },
	{ label: "queue wait p50 ms (created→started)", value: (r) => r.completion.queueWaitMs?.p50 ?? null, digits: 0 },
	{ label: "run p50 ms (started→finished)", value: (r) => r.completion.runMs?.p50 ?? null, digits: 0 },
	{ label: "run p99 ms (started→finished)", value: (r) => r.completion.runMs?.p99 ?? null, digits: 0 },
	{ label: "queue batches", value: (r) => r.queueBatches?.batches ?? null, digits: 0 },
	{ label: "batch size p50", value: (r) => r.queueBatches?.batchSize?.p50 ?? null, digits: 0 },
	{ label: "batch ms p50", value: (r) => r.queueBatches?.batchMs?.p50 ?? null, digits: 0 },
	{ label: "batch ms max", value: (r) => r.queueBatches?.batchMs?.max ?? null, digits: 0 },
	{ label: "idle server p50 ms (created→finished)", value: (r) => r.idle.serverMs?.p50 ?? null, digits: 0 },
	{ label: "wait/poll requests", value: (r) => r.completion.requests, digits: 0 },
	{ label: "workerd CPU ms/task (submit+wait)", value: (r) => perTask(r, total(r.cpu.load.serverCpuMs?.["workerd"])), digits: 2 },
	{ label: "  of which system (kernel) %", value: (r) => systemShare(r.cpu.load.serverCpuMs?.["workerd"]), digits: 0 },
	{ label: "wrangler node CPU ms/task (submit+wait)", value: (r) => perTask(r, total(r.cpu.load.serverCpuMs?.["node"])), digits: 2 },
	{ label: "bench client CPU ms/task (submit+wait)", value: (r) => perTask(r, r.cpu.load.clientCpuMs), digits: 2 },
	{ label: "machine iowait % (submit+wait)", value: (r) => r.cpu.load.machinePercent?.iowait ?? null, digits: 0 },
	{ label: "machine idle % (submit+wait)", value: (r) => r.cpu.load.machinePercent?.idle ?? null, digits: 0 },
	{ label: "workerd CPU ms/lookup", value: (r) => perLookup(r, total(r.cpu.lookups.serverCpuMs?.["workerd"])), digits: 2 },
	{ label: "runtime restarts (reloads)", value: (r) => r.runtimeRestarts, digits: 0 },
	{ label: "startup s", value: (r) => (r.startupMs === null ? null : r.startupMs / 1000), digits: 1 },
	{ label: "target wall s", value: (r) => r.wallMs / 1000, digits: 1 },
];

const total = (times: CpuTimes | undefined): number | undefined => (times === undefined ? undefined : times.user + times.system);
const systemShare = (times: CpuTimes | undefined): number | null =>
	times === undefined || times.user + times.system === 0 ? null : (times.system * 100) / (times.user + times.system);
const perTask = (r: TargetResult, ms: number | undefined): number | null =>
	ms === undefined || r.submit.accepted === 0 ? null : ms / r.submit.accepted;
const perLookup = (r: TargetResult, ms: number | undefined): number | null =>
	ms === undefined || r.lookups.requested === 0 ? null : ms / r.lookups.requested;

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

function formatTable(rows: readonly Row[], taskflare: TargetResult | null, baseline: TargetResult | null): string {
	const fmt = (value: number | null, digits: number) => (value === null || Number.isNaN(value) ? "-" : value.toFixed(digits));
	const header = ["", "taskflare", "baseline", "ratio"];
	const lines = rows.map((row) => {
		const a = taskflare ? row.value(taskflare) : null;
		const b = baseline ? row.value(baseline) : null;
		return [row.label, fmt(a, row.digits), fmt(b, row.digits), fmt(ratio(a, b), 2)];
	});
	const widths = header.map((_, column) => Math.max(...[header, ...lines].map((cells) => (cells[column] ?? "").length)));
	const render = (cells: readonly string[]) =>
		cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0))).join("  ");
	const rule = widths.map((width) => "-".repeat(width)).join("  ");
	return [render(header), rule, ...lines.map(render)].join("\n");
}

function ratiosJson(taskflare: TargetResult | null, baseline: TargetResult | null): Record<string, number | null> {
	if (!taskflare || !baseline) return {};
	return Object.fromEntries(
		ROWS.map((row) => {
			const value = ratio(row.value(taskflare), row.value(baseline));
			return [row.label, value === null ? null : round(value, 3)];
		}),
	);
}

function wranglerVersion(): string | null {
	try {
		const manifest = readFileSync(path.join(REPO_ROOT, "node_modules", "wrangler", "package.json"), "utf8");
		return parseJson(z.object({ version: z.string() }), manifest).version;
	} catch {
		return null;
	}
}

function gitCommit(): string | null {
	try {
		const git = (...args: string[]) => execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
		const head = git("rev-parse", "--short", "HEAD");
		const dirty = git("status", "--porcelain", "--", "src", "wrangler.toml", "package.json");
		return dirty === "" ? head : `${head}+uncommitted`;
	} catch {
		return null;
	}
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
	const options = readOptions(process.argv.slice(2));
	if (options === null) {
		process.stdout.write(`${USAGE}\n`);
		return 0;
	}
	const started = wallMs();
	const loadBefore = os.loadavg();
	const git = gitCommit();
	const jsonPath = path.resolve(REPO_ROOT, options.json);
	const logDir = path.join(REPO_ROOT, "bench", "results");
	mkdirSync(logDir, { recursive: true });
	mkdirSync(path.dirname(jsonPath), { recursive: true });
	// Started here: a fresh random token. Given --base: that server's token.
	const token = options.base === undefined ? randomBytes(24).toString("hex") : (options.token ?? process.env.API_TOKEN ?? "dev-token");
	process.stderr.write(
		`taskflare bench: n=${options.n} concurrency=${options.concurrency} lookups=${options.lookups} latency-samples=${options.latencySamples}` +
			` deadline=${options.deadline}s, ${os.availableParallelism()} cores, load ${loadBefore.map((x) => x.toFixed(2)).join(" ")}\n`,
	);

	const taskflare = await runTarget("taskflare", options, logDir, token, options.base);
	const baseline = options.noBaseline ? null : await runTarget("baseline", options, logDir, token, undefined);

	const totalMs = wallMs() - started;
	const result = {
		date: new Date().toISOString(),
		command: ["node", ...process.execArgv, ...process.argv.slice(1).map((arg) => path.relative(REPO_ROOT, arg) || arg)].join(" "),
		npmScript: process.env.npm_lifecycle_script ?? null,
		git,
		versions: { node: process.version, wrangler: wranglerVersion() },
		machine: {
			cores: os.availableParallelism(),
			cpuModel: os.cpus()[0]?.model ?? null,
			memoryGiB: round(os.totalmem() / 2 ** 30),
			platform: `${os.platform()} ${os.release()}`,
			loadavgBefore: loadBefore.map((x) => round(x, 2)),
			loadavgAfter: os.loadavg().map((x) => round(x, 2)),
		},
		options: { ...options, token: undefined },
		wallSeconds: round(totalMs / 1000),
		targets: { taskflare, baseline },
		ratios: ratiosJson(taskflare, baseline),
		ratioNote: "taskflare / baseline: for /s rows below 1 is slower, for ms and s rows above 1 is slower",
	};
	writeFileSync(jsonPath, `${JSON.stringify(result, null, "\t")}\n`);

	const out = [
		"",
		formatTable(ROWS, taskflare, baseline),
		"",
		"details",
		formatTable(DETAIL_ROWS, taskflare, baseline),
		"",
		`ratio = taskflare / baseline (for /s rows: < 1 is slower; for ms and s rows: > 1 is slower)`,
		`wall time ${(totalMs / 1000).toFixed(1)} s; results: ${path.relative(process.cwd(), jsonPath)}`,
	];
	for (const target of [taskflare, baseline]) {
		if (!target) continue;
		const { submit, completion, lookups, idle } = target;
		const samples = [...submit.errorSamples, ...completion.errorSamples, ...lookups.errorSamples, ...idle.errorSamples];
		if (samples.length > 0) out.push(`${target.target} errors (first few): ${samples.join(" | ")}`);
		if ((target.runtimeRestarts ?? 0) > 0) {
			out.push(
				`WARNING ${target.target}: wrangler dev restarted its runtime ${target.runtimeRestarts} time(s) while measured ` +
					"(a rebuild after a file change, or a crash): queued messages were dropped, numbers are not comparable",
			);
		}
		if (target.sourceChanges.length > 0) {
			const changed = target.sourceChanges.join(", ");
			out.push(
				target.snapshot === null
					? `WARNING ${target.target}: sources changed while measured, so wrangler dev reloaded the Worker: ${changed}`
					: `note: ${target.target} sources changed in the working tree meanwhile (${changed}); ` +
						`measured the copy taken at the start (${target.snapshot.sha256})`,
			);
		}
		if (target.lost > 0) out.push(`${target.target}: ${target.lost} task(s) LOST, e.g. ${target.completion.lostIds.slice(0, 3).join(", ")}`);
	}
	process.stdout.write(`${out.join("\n")}\n`);
	return taskflare.lost + (baseline?.lost ?? 0) > 0 ? 1 : 0;
}

// Every way out stops the servers: normal end, errors, Ctrl-C / SIGTERM / SIGHUP, and (last
// resort, synchronously) process exit.
process.on("exit", killEverythingNow);
let stopping = false;
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
	process.on(signal, () => {
		if (stopping) {
			killEverythingNow();
			process.exit(code);
		}
		stopping = true;
		process.stderr.write(`\n${signal}: stopping wrangler dev…\n`);
		void stopEverything().finally(() => process.exit(code));
	});
}

main()
	.then(async (code) => {
		await stopEverything();
		process.exitCode = code;
	})
	.catch(async (error: unknown) => {
		// After Ctrl-C the dev servers are being stopped under the phases' feet: not a failure.
		if (stopping) return;
		const text =
			error instanceof UsageError
				? `${error.message}\n\n${USAGE}`
				: error instanceof BenchError
					? error.message
					: error instanceof Error
						? (error.stack ?? error.message)
						: String(error);
		process.stderr.write(`\nbench failed: ${text}\n`);
		await stopEverything();
		process.exitCode = error instanceof UsageError ? 64 : 2;
	});
