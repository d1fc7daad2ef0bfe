// One target, end to end: start its wrangler dev (unless --base), run the four phases with CPU
// snapshots between them, collect what the server's log and disk say, stop the server.
import path from "node:path";
import { type DevServer, logTail, REPO_ROOT } from "../scripts/dev-server.ts";
import { cpuBetween, cpuSnapshot, type PhaseCpu } from "./cpu.ts";
import { BenchError } from "./errors.ts";
import type { Options } from "./options.ts";
import { type CompletionPhase, completionPhase } from "./phases/completion.ts";
import { type IdlePhase, idlePhase } from "./phases/idle.ts";
import { type LookupPhase, lookupPhase } from "./phases/lookups.ts";
import { type SubmitPhase, submitPhase } from "./phases/submit.ts";
import { type IndexPhase, indexPhase } from "./phases/task-index.ts";
import { Progress } from "./progress.ts";
import { type QueueLogStats, queueLogStats } from "./queue-log.ts";
import { type BenchServer, exitText, removeTempDir, startWrangler, stopServer, waitHealthy, watchRuntimeRestarts } from "./servers.ts";
import { round, wallMs } from "./stats.ts";
import { baselineTarget, preflight, type Target, taskflareTarget } from "./targets.ts";
import { diskUsage, snapshotWorker, watchSources } from "./worker-files.ts";

const BASELINE_DIR = path.join(REPO_ROOT, "bench", "baseline");

export type TargetResult = {
	target: string;
	baseUrl: string;
	startedHere: boolean;
	startupMs: number | null;
	wallMs: number;
	submit: SubmitPhase;
	completion: CompletionPhase;
	lookups: LookupPhase;
	idle: IdlePhase;
	/** taskflare's task index: list pages and stats with --index-tasks indexed (null: baseline, or skipped). */
	index: IndexPhase | null;
	/** Parsed from wrangler's log ("QUEUE <name> <acked>/<size> (<ms>ms)"), when started here. */
	queueBatches: QueueLogStats | null;
	/** The same, for the submit and wait phases only (the idle phase's batches are all of 1). */
	queueBatchesUnderLoad: QueueLogStats | null;
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

async function benchTarget(target: Target, options: Options, server: DevServer | null, startupMs: number | null): Promise<TargetResult> {
	const started = wallMs();
	process.stderr.write(`${target.name} at ${target.baseUrl}\n`);
	const pgid = server?.pid ?? null;
	const cpu0 = cpuSnapshot(pgid);
	const { phase: submit, tasks } = await submitPhase(target, options.n, options.concurrency);
	const { phase: completion, finished } = await completionPhase(target, tasks, submit, options);
	const cpu1 = cpuSnapshot(pgid);
	const queueBatchesUnderLoad = server === null ? null : queueLogStats(server.logFile);
	const lookups = await lookupPhase(target, finished, options.lookups, options.concurrency);
	const cpu2 = cpuSnapshot(pgid);
	const idle = await idlePhase(target, options.latencySamples);
	const cpu3 = cpuSnapshot(pgid);
	// After the phases above, so their figures are the same as without it.
	const index =
		target.name === "taskflare" && options.indexTasks > 0
			? await indexPhase(target, pgid, submit.accepted + options.latencySamples, options)
			: null;
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
		index,
		queueBatches: server === null ? null : queueLogStats(server.logFile),
		queueBatchesUnderLoad,
		cpu: { load: cpuBetween(cpu0, cpu1), lookups: cpuBetween(cpu1, cpu2), idle: cpuBetween(cpu2, cpu3) },
		persisted: server === null ? null : diskUsage(server.persistTo),
		sourceChanges: [],
		snapshot: null,
		runtimeRestarts: null,
		failed: submit.errors + completion.failed + idle.failed + (index?.errors ?? 0),
		lost: completion.lost + idle.lost,
	};
}

/** Starts wrangler dev (unless `base`), checks the server, runs the phases, stops the server. */
export async function runTarget(
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
			new Progress(`${name} wrangler dev`).done(
				`pid ${server.pid}, ${server.baseUrl}, log ${path.relative(process.cwd(), server.logFile)}`,
			);
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
