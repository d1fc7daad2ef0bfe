// Report: the results as JSON (with what was measured on what), and as text: the main and details
// tables (taskflare, baseline, ratio) followed by errors and warnings.
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "../scripts/dev-server.ts";
import type { CpuTimes } from "./cpu.ts";
import type { Options } from "./options.ts";
import { wranglerVersion } from "./provenance.ts";
import type { TargetResult } from "./run-target.ts";
import { round } from "./stats.ts";

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
	{ label: "batches under load (submit+wait)", value: (r) => r.queueBatchesUnderLoad?.batches ?? null, digits: 0 },
	{ label: "  batch size p50 under load", value: (r) => r.queueBatchesUnderLoad?.batchSize?.p50 ?? null, digits: 0 },
	{ label: "  batch size max under load", value: (r) => r.queueBatchesUnderLoad?.batchSize?.max ?? null, digits: 0 },
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
	{ label: "index: tasks indexed", value: (r) => r.index?.indexed ?? null, digits: 0 },
	{ label: "index: rows written/task (from code; +2/tag)", value: (r) => r.index?.rowsWritten.perTask ?? null, digits: 0 },
	{ label: "index fill: workerd CPU ms/task (batch, delayed)", value: (r) => r.index?.fill.workerdCpuMsPerTask ?? null, digits: 2 },
	{ label: "list page p50 ms (limit 50)", value: (r) => r.index?.listMs["first page, limit 50"]?.p50 ?? null, digits: 1 },
	{ label: "list page p95 ms (limit 50)", value: (r) => r.index?.listMs["first page, limit 50"]?.p95 ?? null, digits: 1 },
	{ label: "list next page p50 ms (cursor)", value: (r) => r.index?.listMs["next page (cursor)"]?.p50 ?? null, digits: 1 },
	{ label: "list status=failed p50 ms", value: (r) => r.index?.listMs["status=failed"]?.p50 ?? null, digits: 1 },
	{ label: "list tag p50 ms", value: (r) => r.index?.listMs["tag=…"]?.p50 ?? null, digits: 1 },
	{ label: "list limit=200 p50 ms", value: (r) => r.index?.listMs["limit=200"]?.p50 ?? null, digits: 1 },
	{ label: "stats p50 ms", value: (r) => r.index?.statsMs?.p50 ?? null, digits: 1 },
	{ label: "stats p95 ms", value: (r) => r.index?.statsMs?.p95 ?? null, digits: 1 },
	{ label: "workerd CPU ms/list page", value: (r) => r.index?.workerdCpuMsPerListPage ?? null, digits: 2 },
	{ label: "workerd CPU ms/stats call", value: (r) => r.index?.workerdCpuMsPerStats ?? null, digits: 2 },
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

/** The JSON document written to --json. */
export function resultsJson(run: {
	options: Options;
	git: string | null;
	loadBefore: readonly number[];
	totalMs: number;
	taskflare: TargetResult;
	baseline: TargetResult | null;
}): string {
	const { options, git, loadBefore, totalMs, taskflare, baseline } = run;
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
	return `${JSON.stringify(result, null, "\t")}\n`;
}

/** The text printed at the end: tables, then errors, warnings and lost tasks per target. */
export function reportText(taskflare: TargetResult, baseline: TargetResult | null, totalMs: number, jsonPath: string): string {
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
		const samples = [
			...submit.errorSamples,
			...completion.errorSamples,
			...lookups.errorSamples,
			...idle.errorSamples,
			...(target.index?.errorSamples ?? []),
		];
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
		if (target.lost > 0)
			out.push(`${target.target}: ${target.lost} task(s) LOST, e.g. ${target.completion.lostIds.slice(0, 3).join(", ")}`);
	}
	return `${out.join("\n")}\n`;
}
