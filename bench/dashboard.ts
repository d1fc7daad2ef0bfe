// How fast the dashboard's pages answer with many tasks indexed, and how much each page transfers.
//
//   npm run bench:dashboard                    # 10,000 tasks; starts its own wrangler dev
//   npm run bench:dashboard -- --n 2000        # a quick run (also: --samples 30, --settle 10 s)
//
// Starts `wrangler dev` on a free port and a fresh state directory, submits N tasks through the
// batch API (100 per request, delayed by an hour so they all stay indexed as queued, with types
// and tags spread out), signs in to the dashboard like a browser, then times K requests of each
// page one after another: the overview, its 2-second live fragment, a list page of 50 (first
// page, a later page by cursor, a filtered page) and a task's detail page. "Server time" is the
// time to the last byte measured by a client on the same machine, so it is an upper bound of the
// Worker's own time. Transfer is the HTML plus the scripts, stylesheet and icon the page loads
// (uncompressed, as wrangler dev serves them; gzip sizes are printed beside them).
import { gzipSync } from "node:zlib";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { findFreePort, killGroupNow, logTail, startDevServer, stopDevServer, waitUntilHealthy } from "../scripts/dev-server.ts";

const { values: options } = parseArgs({
	options: {
		n: { type: "string", default: "10000" },
		samples: { type: "string", default: "30" },
		concurrency: { type: "string", default: "4" },
		settle: { type: "string", default: "10" },
	},
});
const N = Number(options.n);
const SAMPLES = Number(options.samples);
const CONCURRENCY = Number(options.concurrency);
/** Seconds to wait after the last submit, so the index's coalesced writes are done before timing. */
const SETTLE_SECONDS = Number(options.settle);
const TOKEN = "bench-token";
const TYPES = ["echo", "sleep", "sha256"];

function percentile(sorted: number[], p: number): number {
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
	const runDir = mkdtempSync(path.join(tmpdir(), "taskflare-dash-bench-"));
	const server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(runDir, "state"),
		logFile: path.join(runDir, "wrangler-dev.log"),
		apiToken: TOKEN,
		logLevel: "warn",
	});
	process.once("exit", () => killGroupNow(server.pid));
	try {
		await waitUntilHealthy(server, 90_000);
		const base = server.baseUrl;
		await submitTasks(base);
		await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000));
		const cookie = await signIn(base);
		const report = await measure(base, cookie);
		console.log(report);
	} catch (error) {
		console.error(logTail(server.logFile));
		throw error;
	} finally {
		await stopDevServer(server);
		rmSync(runDir, { recursive: true, force: true });
	}
}

async function submitTasks(base: string): Promise<void> {
	const started = performance.now();
	let next = 0;
	const batches = Math.ceil(N / 100);
	const worker = async () => {
		for (let batch = next++; batch < batches; batch = next++) {
			const tasks = Array.from({ length: Math.min(100, N - batch * 100) }, (_, i) => {
				const n = batch * 100 + i;
				const type = TYPES[n % TYPES.length] ?? "echo";
				const payload = type === "sleep" ? { ms: 10 } : type === "sha256" ? { text: `t${n}` } : { n };
				return { type, payload, delaySeconds: 3600, tags: [`customer:${n % 50}`, `batch:${batch}`] };
			});
			const response = await fetch(`${base}/v1/tasks/batch`, {
				method: "POST",
				headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
				body: JSON.stringify({ tasks }),
			});
			if (response.status !== 202) throw new Error(`batch submit answered ${response.status}: ${await response.text()}`);
			await response.arrayBuffer();
			if (batch % 10 === 9) process.stderr.write(`submitted ${(batch + 1) * 100} / ${N}\n`);
		}
	};
	await Promise.all(Array.from({ length: CONCURRENCY }, worker));
	process.stderr.write(`submitted ${N} tasks in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

async function signIn(base: string): Promise<string> {
	const response = await fetch(`${base}/dashboard/sign-in`, {
		method: "POST",
		redirect: "manual",
		headers: { Origin: base, "Content-Type": "application/x-www-form-urlencoded" },
		body: new URLSearchParams({ token: TOKEN }).toString(),
	});
	const cookie = /^([^;]+)/.exec(response.headers.get("Set-Cookie") ?? "")?.[1];
	if (response.status !== 303 || !cookie) throw new Error(`sign-in answered ${response.status}`);
	return cookie;
}

type PageResult = { name: string; p50: number; p95: number; max: number; html: number; assets: number; gzip: number };

async function measure(base: string, cookie: string): Promise<string> {
	const get = async (pathAndQuery: string) => {
		const started = performance.now();
		const response = await fetch(`${base}${pathAndQuery}`, { headers: { Cookie: cookie } });
		const text = await response.text();
		const ms = performance.now() - started;
		if (response.status !== 200) throw new Error(`GET ${pathAndQuery} answered ${response.status}`);
		return { ms, text };
	};
	const first = await get("/dashboard/tasks");
	const cursor = /href="\/dashboard\/tasks\?cursor=([^"&]+)"/.exec(first.text)?.[1];
	const taskId = /data-task-id="([0-9a-f]{64})"/.exec(first.text)?.[1];
	if (!cursor || !taskId) throw new Error("the list page has no cursor or no task");
	const rows = first.text.split("data-task-id=").length - 1;
	const pages: [string, string][] = [
		["overview", "/dashboard"],
		["overview live fragment", "/dashboard/overview/live"],
		["list, first page", "/dashboard/tasks"],
		["list, by cursor", `/dashboard/tasks?cursor=${cursor}`],
		["list, status+type+tag", "/dashboard/tasks?status=queued&type=echo&tag=customer%3A7"],
		["new-tasks notice", `/dashboard/tasks/new?since=${Date.now() - 1000}`],
		["task detail", `/dashboard/tasks/${taskId}`],
	];
	const assetUrls = [...first.text.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)].map((m) => m[1] ?? "");
	const assets = await Promise.all(assetUrls.map(async (url) => (await get(url)).text));
	const assetBytes = assets.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
	const assetGzip = assets.reduce((sum, text) => sum + gzipSync(text).length, 0);
	const results: PageResult[] = [];
	for (const [name, url] of pages) {
		await get(url); // warm
		const times: number[] = [];
		let html = "";
		for (let i = 0; i < SAMPLES; i++) {
			const { ms, text } = await get(url);
			times.push(ms);
			html = text;
		}
		times.sort((a, b) => a - b);
		const fragment = name.includes("fragment") || name.includes("notice");
		results.push({
			name,
			p50: percentile(times, 50),
			p95: percentile(times, 95),
			max: times.at(-1) ?? Number.NaN,
			html: Buffer.byteLength(html),
			assets: fragment ? 0 : assetBytes,
			gzip: gzipSync(html).length + (fragment ? 0 : assetGzip),
		});
	}
	const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
	const lines = [
		`dashboard with ${N} tasks indexed; ${SAMPLES} requests per page, one at a time; list pages hold ${rows} rows`,
		`${"page".padEnd(24)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"max ms".padStart(8)}  ${"html".padStart(10)}  ${"+assets".padStart(10)}  ${"gzip all".padStart(10)}`,
		...results.map(
			(r) =>
				`${r.name.padEnd(24)} ${r.p50.toFixed(1).padStart(8)} ${r.p95.toFixed(1).padStart(8)} ${r.max.toFixed(1).padStart(8)}  ${kb(r.html).padStart(10)}  ${kb(r.html + r.assets).padStart(10)}  ${kb(r.gzip).padStart(10)}`,
		),
	];
	return lines.join("\n");
}

main().catch((error: unknown) => {
	console.error(error);
	process.exit(1);
});
