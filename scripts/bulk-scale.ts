// Bulk operations at scale against a real `wrangler dev`: submits N tasks (default 10,000) with a
// tag of their own, delayed an hour so none runs, then a bulk cancel by that tag and a bulk delete
// of the cancelled ones, and checks the task index and the tasks' own records afterwards. Prints
// the times and counts as JSON; exits 1 if any count is off.
//
//   node --experimental-strip-types scripts/bulk-scale.ts [N]
//
// Starts its own `wrangler dev` on a free port with a fresh temporary state directory, and stops
// it on the way out. Runs on Node >= 22.18 as is (type stripping).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { findFreePort, logTail, startDevServer, stopDevServer, waitUntilHealthy } from "./dev-server.ts";

const N = Number(process.argv[2] ?? 10_000);
const TOKEN = "bulk-scale-token";
/** Batch submits in flight at once (100 tasks each). */
const CONCURRENCY = 8;

const Operation = z.object({ id: z.string(), state: z.string(), matched: z.int(), done: z.int(), skipped: z.int(), failed: z.int() });
const Page = z.object({ tasks: z.array(z.object({ id: z.string(), status: z.string() })), nextCursor: z.string().nullable() });

const runDir = mkdtempSync(path.join(tmpdir(), "taskflare-bulk-scale-"));
const server = await startDevServer({
	port: await findFreePort(),
	persistTo: path.join(runDir, "state"),
	logFile: path.join(runDir, "wrangler-dev.log"),
	apiToken: TOKEN,
});

async function call(method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
	const response = await fetch(`${server.baseUrl}${route}`, {
		method,
		headers: { Authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await response.text();
	return { status: response.status, json: text === "" ? null : JSON.parse(text) };
}

/** How many tasks GET /v1/tasks lists for the query (every page). */
async function countListed(query: string): Promise<number> {
	let count = 0;
	let cursor: string | null = null;
	do {
		const answer = await call("GET", `/v1/tasks?${query}&limit=200${cursor === null ? "" : `&cursor=${cursor}`}`);
		const page = Page.parse(answer.json);
		count += page.tasks.length;
		cursor = page.nextCursor;
	} while (cursor !== null);
	return count;
}

async function untilListed(query: string, expected: number): Promise<number> {
	const started = Date.now();
	while ((await countListed(query)) !== expected) {
		if (Date.now() - started > 300_000) throw new Error(`${query}: not ${expected} listed after 300 s`);
		await delay(1000);
	}
	return (Date.now() - started) / 1000;
}

/** Starts a bulk operation and polls it until it ended; returns it with its duration in seconds. */
async function bulk(body: unknown) {
	const started = Date.now();
	const answer = await call("POST", "/v1/tasks/bulk", body);
	if (answer.status !== 202) throw new Error(`bulk: ${answer.status} ${JSON.stringify(answer.json)}`);
	let operation = Operation.parse(answer.json);
	while (operation.state === "running") {
		await delay(500);
		operation = Operation.parse((await call("GET", `/v1/operations/${operation.id}`)).json);
	}
	return { ...operation, seconds: (Date.now() - started) / 1000 };
}

try {
	await waitUntilHealthy(server, 90_000);
	const tag = `bulk-scale:${randomBytes(6).toString("hex")}`;
	const submitStarted = Date.now();
	const batches = Array.from({ length: Math.ceil(N / 100) }, (_, b) => Math.min(100, N - b * 100));
	const queue = batches.entries();
	await Promise.all(
		Array.from({ length: CONCURRENCY }, async () => {
			for (const [b, size] of queue) {
				const tasks = Array.from({ length: size }, (_, i) => ({
					type: "echo",
					payload: { n: b * 100 + i },
					delaySeconds: 3600,
					tags: [tag],
				}));
				const answer = await call("POST", "/v1/tasks/batch", { tasks });
				if (answer.status !== 202) throw new Error(`batch ${b}: ${answer.status}`);
			}
		}),
	);
	const submitSeconds = (Date.now() - submitStarted) / 1000;
	const q = `tag=${encodeURIComponent(tag)}`;
	await untilListed(`${q}&status=queued`, N);

	const cancel = await bulk({ action: "cancel", filter: { tag } });
	const cancelListedAfter = await untilListed(`${q}&status=cancelled`, N);
	const remove = await bulk({ action: "delete", filter: { tag, status: ["cancelled"] } });
	const listedAfterDelete = await countListed(q);

	const report = { n: N, submitSeconds, cancel, cancelListedAfterSeconds: cancelListedAfter, delete: remove, listedAfterDelete };
	console.log(JSON.stringify(report, null, 2));
	const ok =
		cancel.done === N && cancel.state === "succeeded" && remove.done === N && remove.state === "succeeded" && listedAfterDelete === 0;
	process.exitCode = ok ? 0 : 1;
} catch (error) {
	console.error(error);
	console.error(logTail(server.logFile));
	process.exitCode = 2;
} finally {
	await stopDevServer(server);
	rmSync(runDir, { recursive: true, force: true });
}
