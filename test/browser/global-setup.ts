// Starts one real `wrangler dev` for the browser tests on a free port and a fresh persistence
// directory, and hands its URL and token to the tests (`inject("dashboardUrl")`). Pages are opened
// on http://localhost:<port> (not 127.0.0.1) because that is what a newcomer opens.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { findFreePort, killGroupNow, logTail, startDevServer, stopDevServer, waitUntilHealthy } from "../../scripts/dev-server";
import { CHROMIUM } from "./browser";

declare module "vitest" {
	interface ProvidedContext {
		/** e.g. http://localhost:41234, no trailing slash. */
		dashboardUrl: string;
		dashboardToken: string;
	}
}

const API_TOKEN = "browser-token";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
	if (!existsSync(CHROMIUM)) {
		throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium).`);
	}
	const runDir = await mkdtemp(path.join(tmpdir(), "taskflare-browser-"));
	const logFile = path.join(runDir, "wrangler-dev.log");
	const port = await findFreePort();
	const server = await startDevServer({
		port,
		persistTo: path.join(runDir, "state"),
		logFile,
		apiToken: API_TOKEN,
		vars: { REDRIVE_AFTER_SECONDS: "15" },
	});
	const killOnExit = () => killGroupNow(server.pid);
	process.once("exit", killOnExit);
	try {
		await waitUntilHealthy(server, 90_000);
	} catch (error) {
		console.error(`\n--- wrangler dev log (${logFile}) ---\n${logTail(logFile)}\n---`);
		await stopDevServer(server);
		process.off("exit", killOnExit);
		throw error;
	}
	project.provide("dashboardUrl", `http://localhost:${port}`);
	project.provide("dashboardToken", API_TOKEN);
	return async function teardown() {
		await stopDevServer(server);
		process.off("exit", killOnExit);
		if (project.vitest.state.getCountOfFailedTests() > 0 || process.env.TASKFLARE_BROWSER_KEEP) {
			console.log(`browser test run directory kept: ${runDir} (server log: ${logFile})`);
		} else {
			await rm(runDir, { recursive: true, force: true });
		}
	};
}
