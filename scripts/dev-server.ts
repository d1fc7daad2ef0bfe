// Process control for a real `wrangler dev`: start it on a given port and persistence directory,
// wait until it answers, and stop its whole process group. Shared by the end-to-end tests (the
// crash test SIGKILLs the server and restarts it on the same directory and port) and the
// benchmark (which also starts bench/baseline with its own config). Imports only node:*, so
// Node runs it directly with type stripping.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const HOST = "127.0.0.1";

export type DevServerOptions = {
	/** TCP port on 127.0.0.1 (see findFreePort). */
	port: number;
	/** Durable Object and queue state; reuse the same directory to restart "after a crash". */
	persistTo: string;
	/** wrangler's stdout and stderr are appended here, so a restart keeps the earlier log. */
	logFile: string;
	/** The API token (null for a Worker without one, such as the benchmark's baseline). */
	apiToken: string | null;
	/** Another wrangler config than the repository's wrangler.toml. */
	config?: string;
	/**
	 * Another project than this repository (e.g. an example app installed elsewhere): wrangler dev
	 * runs there, with that project's own wrangler (its node_modules) and its wrangler.toml.
	 */
	projectDir?: string;
	/** wrangler's --log-level (its default when unset). */
	logLevel?: string;
	/** Extra `--var NAME:value` bindings (override wrangler.toml [vars]). */
	vars?: Readonly<Record<string, string>>;
};

export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

export type DevServer = {
	readonly baseUrl: string;
	readonly port: number;
	/** Pid of wrangler, which is also the id of the process group holding workerd etc. */
	readonly pid: number;
	readonly persistTo: string;
	readonly logFile: string;
	/** Set once wrangler itself has exited. */
	readonly exitStatus: () => ExitStatus | null;
	/** Resolves when wrangler itself exits (its children may outlive it: see stopDevServer). */
	readonly exited: Promise<ExitStatus>;
};

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function findFreePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.once("error", reject);
		server.listen(0, HOST, () => {
			const address = server.address();
			const port = typeof address === "object" && address !== null ? address.port : null;
			server.close(() => (port === null ? reject(new Error("no port assigned")) : resolve(port)));
		});
	});
}

/**
 * Spawns `wrangler dev` in its own process group (detached), so that stopDevServer can signal
 * wrangler together with the workerd and esbuild processes it starts. Returns at once; call
 * waitUntilHealthy before sending requests.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
	// A fixed inspector port of our own: the default (9229) may be taken by another wrangler dev.
	const inspectorPort = await findFreePort();
	const vars = { ...(options.apiToken === null ? {} : { API_TOKEN: options.apiToken }), ...options.vars };
	const projectDir = options.projectDir ?? REPO_ROOT;
	const args = [
		path.join(projectDir, "node_modules", "wrangler", "bin", "wrangler.js"),
		"dev",
		...(options.config === undefined ? [] : ["--config", options.config]),
		...(options.logLevel === undefined ? [] : ["--log-level", options.logLevel]),
		"--port",
		String(options.port),
		"--ip",
		HOST,
		"--inspector-port",
		String(inspectorPort),
		"--persist-to",
		options.persistTo,
		"--show-interactive-dev-session=false",
		...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
	];
	const log = openSync(options.logFile, "a");
	let child: ChildProcess;
	try {
		child = spawn(process.execPath, args, {
			cwd: projectDir,
			detached: true,
			stdio: ["ignore", log, log],
			env: {
				...process.env,
				// API_TOKEN is a declared secret (wrangler.toml [secrets]), which wrangler dev reads from
				// the environment; `--var` sets it as well, so either way the server gets our token.
				...(options.apiToken === null ? {} : { API_TOKEN: options.apiToken }),
				// No network on CI machines: no metrics, no request.cf lookups. Fewer colour codes in the log.
				CLOUDFLARE_CF_FETCH_ENABLED: "false",
				WRANGLER_SEND_METRICS: "false",
				NO_COLOR: "1",
			},
		});
	} finally {
		// The child holds its own copy of the descriptor.
		closeSync(log);
	}
	const pid = child.pid;
	if (pid === undefined) {
		// spawn reports the reason asynchronously through "error".
		const error = await new Promise<Error>((resolve) => child.once("error", resolve));
		throw new Error(`could not start wrangler dev: ${error.message}`);
	}
	let exitStatus: ExitStatus | null = null;
	const exited = new Promise<ExitStatus>((resolve) => {
		child.once("exit", (code, signal) => {
			exitStatus = { code, signal };
			resolve(exitStatus);
		});
	});
	return {
		baseUrl: `http://${HOST}:${options.port}`,
		port: options.port,
		pid,
		persistTo: options.persistTo,
		logFile: options.logFile,
		exitStatus: () => exitStatus,
		exited,
	};
}

/** Polls GET `healthPath` until it answers 200; fails early if wrangler exits. */
export async function waitUntilHealthy(server: DevServer, timeoutMs: number, healthPath = "/healthz"): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let lastProblem = "no answer yet";
	while (Date.now() < deadline) {
		const exit = server.exitStatus();
		if (exit) throw new Error(`wrangler dev exited (code ${exit.code}, signal ${exit.signal}) before it was healthy`);
		try {
			const response = await fetch(`${server.baseUrl}${healthPath}`, { signal: AbortSignal.timeout(5_000) });
			await response.arrayBuffer();
			if (response.status === 200) return;
			lastProblem = `GET ${healthPath} answered ${response.status}`;
		} catch (error) {
			lastProblem = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
		}
		await delay(250);
	}
	throw new Error(`wrangler dev was not healthy within ${timeoutMs} ms (${lastProblem})`);
}

/**
 * Stops the server's whole process group: `signal` (SIGTERM lets wrangler shut workerd down; a
 * crash test passes SIGKILL), then SIGKILL for whatever is still alive after `graceMs`. Resolves
 * once no process of the group is left, so the port and persistence directory are free again.
 */
export async function stopDevServer(
	server: DevServer,
	{ signal = "SIGTERM", graceMs = 10_000 }: { signal?: NodeJS.Signals; graceMs?: number } = {},
): Promise<void> {
	signalGroup(server.pid, signal);
	if (await groupGone(server.pid, graceMs)) return;
	signalGroup(server.pid, "SIGKILL");
	if (!(await groupGone(server.pid, 10_000))) {
		throw new Error(`process group ${server.pid} is still alive after SIGKILL`);
	}
}

/** Synchronous last resort for `process.on("exit")`: SIGKILL the group, ignore errors. */
export function killGroupNow(pid: number): void {
	signalGroup(pid, "SIGKILL");
}

/** The last `lines` lines of the log (empty if there is none). */
export function logTail(logFile: string, lines = 60): string {
	if (!existsSync(logFile)) return "";
	return readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n");
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pgid, signal);
	} catch (error) {
		if (errorCode(error) !== "ESRCH") throw error;
	}
}

async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (groupAlive(pgid)) {
		if (Date.now() >= deadline) return false;
		await delay(100);
	}
	return true;
}

/**
 * Whether any process of the group is still running. On Linux /proc is read so that zombies
 * (exited, not yet reaped by a container's pid 1) do not count; elsewhere, signal 0 is used.
 */
function groupAlive(pgid: number): boolean {
	if (existsSync("/proc/self/stat")) {
		for (const entry of readdirSync("/proc")) {
			if (!/^\d+$/.test(entry)) continue;
			let stat: string;
			try {
				stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			} catch {
				continue; // Exited while we looked.
			}
			// "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
			const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
			if (Number(pgrp) === pgid && state !== "Z" && state !== "X") return true;
		}
		return false;
	}
	try {
		process.kill(-pgid, 0);
		return true;
	} catch (error) {
		return errorCode(error) === "EPERM";
	}
}

function errorCode(error: unknown): string | undefined {
	return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}
