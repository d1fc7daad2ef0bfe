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
// terminal; (e) taskflare only: the task index filled to --index-tasks tasks, then list pages and
// stats calls timed one at a time. Prints a table (with taskflare / baseline ratios) and writes it as JSON. Exits 1 if
// a task was lost (not terminal by the deadline), 2 on any other failure, 64 on bad options, 130
// on Ctrl-C. The details table says where time went: CPU of workerd and of wrangler per task (from
// /proc), queue batch sizes and durations (from wrangler's log), runtime restarts.
//
// Runs on Node >= 22.18 as is (type stripping): imports of other .ts files carry the extension,
// and only erasable TypeScript syntax is used (no enums, namespaces or parameter properties).
// Every `wrangler dev` it starts runs in its own process group, on a free port and a fresh
// temporary --persist-to directory, and is stopped (SIGTERM, then SIGKILL) on every way out.
// taskflare runs from a copy of src/ and its config taken at the start (--no-snapshot: from the
// working tree), because wrangler dev rebuilds and restarts the Worker whenever a source changes.
// Logs of the dev servers: bench/results/wrangler-<target>.log.
//
// This file is the entry: options, the two targets in turn, the report, and every way out.
// The rest, by concern: options.ts, targets.ts (how to talk to each Worker), run-target.ts (one
// target end to end), phases/ (submit, completion, lookups, idle, task-index), servers.ts and
// worker-files.ts (the wrangler dev processes and the Worker's files), cpu.ts (/proc),
// queue-log.ts (batch sizes from wrangler's log), stats.ts, progress.ts, report.ts.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../scripts/dev-server.ts";
import { BenchError } from "./errors.ts";
import { readOptions, USAGE, UsageError } from "./options.ts";
import { gitCommit } from "./provenance.ts";
import { reportText, resultsJson } from "./report.ts";
import { runTarget } from "./run-target.ts";
import { killEverythingNow, stopEverything } from "./servers.ts";
import { wallMs } from "./stats.ts";

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
	writeFileSync(jsonPath, resultsJson({ options, git, loadBefore, totalMs, taskflare, baseline }));
	process.stdout.write(reportText(taskflare, baseline, totalMs, jsonPath));
	return taskflare.lost + (baseline?.lost ?? 0) > 0 ? 1 : 0;
}

// Every way out stops the servers: normal end, errors, Ctrl-C / SIGTERM / SIGHUP, and (last
// resort, synchronously) process exit.
process.on("exit", killEverythingNow);
let stopping = false;
for (const [signal, code] of [
	["SIGINT", 130],
	["SIGTERM", 143],
	["SIGHUP", 129],
] as const) {
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
