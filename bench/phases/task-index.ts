// Phase (e), taskflare only: the task index. Fills the index up to --index-tasks tasks (delayed
// echo tasks in batches of 100, one in ten a `fail` task that fails at once, each with one of
// 100 tags), waits until the failures are counted, then times list pages of several kinds and
// stats calls, one request at a time, with workerd's CPU per request.
import { z } from "zod";
import { cpuBetween, cpuSnapshot } from "../cpu.ts";
import { describe } from "../errors.ts";
import { parseJson, send } from "../http.ts";
import { Progress } from "../progress.ts";
import { round, type Summary, summarize, wallMs } from "../stats.ts";
import type { Target } from "../targets.ts";
import { ErrorLog, pool } from "./pool.ts";

/** Index rows written per task, counted from src/durable/task-index.ts (checked by test/task-index.test.ts). */
const ROWS_WRITTEN = { perTask: 3, perTag: 2, perFailedOrCancelled: 1 };
const TAGS = 100;
const BATCH = 100;

export type IndexPhase = {
	/** Tasks submitted to this server in all (the other phases' and the fill's). */
	indexed: number;
	fill: { tasks: number; durationMs: number; perSecond: number | null; workerdCpuMsPerTask: number | null };
	/** Latency of one request by kind (sequential, so nothing else competes for the server). */
	listMs: Record<string, Summary | null>;
	statsMs: Summary | null;
	workerdCpuMsPerListPage: number | null;
	workerdCpuMsPerStats: number | null;
	rowsWritten: typeof ROWS_WRITTEN;
	errors: number;
	errorSamples: string[];
};

const Page = z.object({ tasks: z.array(z.object({ id: z.string() })), nextCursor: z.string().nullable() });
const Stats = z.object({ byStatus: z.object({ failed: z.number() }) });

export async function indexPhase(
	target: Target,
	pgid: number | null,
	alreadySubmitted: number,
	options: { indexTasks: number; indexSamples: number; concurrency: number },
): Promise<IndexPhase> {
	const errors = new ErrorLog();
	const get = async (path: string): Promise<string> => {
		const response = await send(target.agent, target.baseUrl, "GET", path, { headers: target.headers, timeoutMs: 60_000 });
		if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${response.text.slice(0, 200)}`);
		return response.text;
	};

	// Fill.
	const fillTasks = Math.max(0, options.indexTasks - alreadySubmitted);
	const batches = Math.ceil(fillTasks / BATCH);
	let fails = 0;
	let nextBatch = 0;
	let filled = 0;
	const progress = new Progress(`${target.name} index fill`);
	const cpu0 = cpuSnapshot(pgid);
	const fillStarted = wallMs();
	// A few batches in flight: each is 100 tasks created concurrently by the Worker.
	await pool(Math.min(4, options.concurrency), async () => {
		if (nextBatch >= batches) return false;
		const batch = nextBatch++;
		const size = Math.min(BATCH, fillTasks - batch * BATCH);
		const tasks = Array.from({ length: size }, (_, i) => {
			const n = batch * BATCH + i;
			const tags = [`bench:${n % TAGS}`];
			if (n % 10 === 0) {
				fails += 1;
				return { type: "fail", payload: { message: "bench" }, tags };
			}
			return { type: "echo", payload: { n }, delaySeconds: 3600, tags };
		});
		try {
			const response = await send(target.agent, target.baseUrl, "POST", "/v1/tasks/batch", {
				body: JSON.stringify({ tasks }),
				headers: target.headers,
				timeoutMs: 120_000,
			});
			if (response.status === 202) filled += size;
			else errors.add(`batch answered ${response.status}: ${response.text.slice(0, 200)}`);
		} catch (error) {
			target.checkAlive();
			errors.add(describe(error));
		}
		progress.update(`${filled}/${fillTasks}`);
		return true;
	});
	const fillMs = wallMs() - fillStarted;
	const fillCpu = cpuBetween(cpu0, cpuSnapshot(pgid)).serverCpuMs?.["workerd"];
	progress.done(`${filled}/${fillTasks} in ${(fillMs / 1000).toFixed(1)} s, ${errors.count} errors`);

	// The failing ones have failed (as the index counts them), so status=failed has rows to find.
	const deadline = wallMs() + 120_000;
	for (;;) {
		try {
			if (parseJson(Stats, await get("/v1/stats")).byStatus.failed >= fails) break;
		} catch (error) {
			errors.add(describe(error));
			break;
		}
		if (wallMs() > deadline) {
			errors.add("the fill's failing tasks were not all counted as failed within 120 s");
			break;
		}
		await new Promise((resolve) => setTimeout(resolve, 500));
	}

	// Time each kind of request, one at a time.
	const timed = async (paths: () => Promise<string> | string, samples: number) => {
		const ms: number[] = [];
		const before = cpuSnapshot(pgid);
		for (let i = 0; i < samples; i++) {
			try {
				const path = await paths();
				const start = wallMs();
				await get(path);
				ms.push(wallMs() - start);
			} catch (error) {
				errors.add(describe(error));
			}
		}
		const cpu = cpuBetween(before, cpuSnapshot(pgid)).serverCpuMs?.["workerd"];
		return { summary: summarize(ms), cpuMs: cpu === undefined || ms.length === 0 ? null : round((cpu.user + cpu.system) / ms.length, 2) };
	};
	const samples = options.indexSamples;
	const first = await timed(() => "/v1/tasks", samples);
	const firstPage = parseJson(Page, await get("/v1/tasks").catch(() => '{"tasks":[],"nextCursor":null}'));
	const next = await timed(() => `/v1/tasks?cursor=${encodeURIComponent(firstPage.nextCursor ?? "")}`, firstPage.nextCursor ? samples : 0);
	const failed = await timed(() => "/v1/tasks?status=failed", samples);
	let tag = 0;
	const tagged = await timed(() => `/v1/tasks?tag=bench:${tag++ % TAGS}`, samples);
	const large = await timed(() => "/v1/tasks?limit=200", samples);
	const stats = await timed(() => "/v1/stats", samples);
	new Progress(`${target.name} index`).done(
		`list page p50 ${first.summary?.p50 ?? "-"} ms, stats p50 ${stats.summary?.p50 ?? "-"} ms with ${alreadySubmitted + filled} tasks indexed`,
	);
	return {
		indexed: alreadySubmitted + filled,
		fill: {
			tasks: filled,
			durationMs: round(fillMs),
			perSecond: fillMs > 0 ? round((filled * 1000) / fillMs) : null,
			workerdCpuMsPerTask: fillCpu === undefined || filled === 0 ? null : round((fillCpu.user + fillCpu.system) / filled, 2),
		},
		listMs: {
			"first page, limit 50": first.summary,
			"next page (cursor)": next.summary,
			"status=failed": failed.summary,
			"tag=…": tagged.summary,
			"limit=200": large.summary,
		},
		statsMs: stats.summary,
		workerdCpuMsPerListPage: first.cpuMs,
		workerdCpuMsPerStats: stats.cpuMs,
		rowsWritten: ROWS_WRITTEN,
		errors: errors.count,
		errorSamples: errors.samples,
	};
}
