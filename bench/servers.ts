// The `wrangler dev` servers of a run. Starting, health-checking and stopping one is shared with the
// e2e tests (scripts/dev-server.ts); this adds temporary directories, clean-up on every way out
// (servers and directories still alive are tracked here) and the count of runtime restarts.
import { existsSync, lstatSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
	type DevServer,
	findFreePort,
	killGroupNow,
	logTail,
	startDevServer,
	stopDevServer,
	waitUntilHealthy,
} from "../scripts/dev-server.ts";
import { groupPids } from "./cpu.ts";
import { BenchError, describe } from "./errors.ts";
import type { Options } from "./options.ts";

export type BenchServer = DevServer & { name: string };

/** Servers started here and not yet stopped: killed on every way out. */
const liveServers = new Set<BenchServer>();
/** Temporary --persist-to and snapshot directories to remove on the way out. */
const tempDirs = new Set<string>();

/** A new directory in the system's temporary directory, removed on every way out. */
export function makeTempDir(prefix: string): string {
	const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
	tempDirs.add(dir);
	return dir;
}

export async function startWrangler(
	name: string,
	config: string,
	apiToken: string | null,
	options: Options,
	logDir: string,
): Promise<BenchServer> {
	const persistTo = makeTempDir(`taskflare-bench-${name}-`);
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

export async function waitHealthy(server: BenchServer, timeoutMs: number): Promise<void> {
	try {
		await waitUntilHealthy(server, timeoutMs);
	} catch (error) {
		throw new BenchError(`wrangler dev (${server.name}): ${describe(error)}\n${logTail(server.logFile)}`);
	}
}

/** How wrangler ended, for messages; null while it runs. */
export function exitText(server: BenchServer): string | null {
	const exit = server.exitStatus();
	if (exit === null) return null;
	return exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
}

export async function stopServer(server: BenchServer): Promise<void> {
	await stopDevServer(server, { graceMs: 5000 }).catch(() => undefined);
	liveServers.delete(server);
	removeTempDir(server.persistTo);
}

/**
 * Counts workerd processes that appear after the start: wrangler dev replaces its runtime process
 * when it rebuilds the Worker (any watched file changed) or the runtime crashed. In-flight POSTs
 * then fail with 503 and the local queue's in-memory messages are gone.
 */
export function watchRuntimeRestarts(pgid: number): { restarts: () => number; stop: () => void } {
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

export function removeTempDir(dir: string): void {
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
export function killEverythingNow(): void {
	for (const server of liveServers) killGroupNow(server.pid);
	liveServers.clear();
	for (const dir of [...tempDirs]) removeTempDir(dir);
}

export async function stopEverything(): Promise<void> {
	await Promise.all([...liveServers].map(stopServer));
	killEverythingNow();
}
