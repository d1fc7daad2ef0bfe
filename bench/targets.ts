// Targets: how to talk to taskflare and to the baseline (paths, auth, parsing their records), and
// the preflight that proves a target's route and token work.
import { Agent } from "node:http";
import { z } from "zod";
import { BenchError } from "./errors.ts";
import { parseJson, send } from "./http.ts";

/** A task as far as the benchmark cares. Times are epoch milliseconds (the server's clock). */
export type TaskView = {
	id: string;
	terminal: boolean;
	ok: boolean;
	status: string;
	createdAt: number;
	startedAt?: number;
	finishedAt?: number;
};

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

export type Target = {
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

export function taskflareTarget(baseUrl: string, token: string, concurrency: number, checkAlive: () => void): Target {
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

export function baselineTarget(baseUrl: string, concurrency: number, checkAlive: () => void): Target {
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

/** An authenticated lookup of an id no task has: 404 proves the route and the token work. */
export async function preflight(target: Target): Promise<void> {
	const response = await send(target.agent, target.baseUrl, "GET", target.taskPath("0".repeat(64)), {
		headers: target.headers,
		timeoutMs: 30_000,
	});
	if (response.status === 401) throw new BenchError(`${target.name} refused the API token (401); pass --token or set API_TOKEN`);
	if (response.status !== 404) {
		throw new BenchError(`${target.name}: GET of an unknown task answered ${response.status}, not 404: ${response.text.slice(0, 300)}`);
	}
}
