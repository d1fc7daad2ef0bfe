// Phase (b), the drain: wait until every submitted task is terminal, within the deadline
// (taskflare: GET ?wait= long-polls; the baseline: sparing polls), and time how they completed.
import { setTimeout as sleep } from "node:timers/promises";
import { describe } from "../errors.ts";
import { send } from "../http.ts";
import type { Options } from "../options.ts";
import { Progress } from "../progress.ts";
import { perSecond, round, type Summary, summarize, wallMs } from "../stats.ts";
import type { Target, TaskView } from "../targets.ts";
import { ErrorLog, pool } from "./pool.ts";
import type { SubmitPhase, Submitted } from "./submit.ts";

export type CompletionPhase = {
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

export async function completionPhase(
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
		queueWaitMs:
			target.name === "taskflare"
				? between(
						(task) => task.createdAt,
						(task) => task.startedAt,
					)
				: null,
		runMs:
			target.name === "taskflare"
				? between(
						(task) => task.startedAt,
						(task) => task.finishedAt,
					)
				: null,
		backlogAtLastSubmit: submitted.length - finishedAts.filter((at) => at <= submit.lastEnd).length,
		consumeRatePerSecond: lastFinished === null || firstFinished === null ? null : perSecond(views.length, lastFinished - firstFinished),
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
