// Starts one real `wrangler dev` for the whole e2e run, on a free port and a fresh persistence
// directory, and hands its URL and API token to the tests (`inject("baseUrl")` etc.).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { findFreePort, killGroupNow, logTail, startDevServer, stopDevServer, waitUntilHealthy } from "../../scripts/dev-server";

declare module "vitest" {
	interface ProvidedContext {
		/** e.g. http://127.0.0.1:41234, no trailing slash. */
		baseUrl: string;
		apiToken: string;
		/** Temporary directory of this run (holds `state/` and `wrangler-dev.log`). */
		runDir: string;
		/** Pid of wrangler dev, which is also its process group's id (workerd runs in it): for memory readings. */
		serverPid: number;
		/** The Worker's WEBHOOK_SECRET: HTTP tasks and callbacks reach 127.0.0.1 (the tests' own receivers). */
		webhookSecret: string;
	}
}

const API_TOKEN = "e2e-token";
/** A fresh whsec_ secret per run (32 random bytes). */
const WEBHOOK_SECRET = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
/** First start compiles the Worker and boots workerd; slow machines need a while. */
const STARTUP_TIMEOUT_MS = 90_000;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
	const runDir = await mkdtemp(path.join(tmpdir(), "taskflare-e2e-"));
	const logFile = path.join(runDir, "wrangler-dev.log");
	const server = await startDevServer({
		port: await findFreePort(),
		persistTo: path.join(runDir, "state"),
		logFile,
		apiToken: API_TOKEN,
		// Re-drive silent tasks quickly, so a message lost by the local queue cannot stall a test.
		// HTTP tasks and callbacks may reach the tests' receivers on 127.0.0.1 (any port), signed.
		vars: { REDRIVE_AFTER_SECONDS: "15", HTTP_ALLOWED_HOSTS: "127.0.0.1", WEBHOOK_SECRET },
	});
	// If vitest dies without running the teardown, do not leave a detached server behind.
	const killOnExit = () => killGroupNow(server.pid);
	process.once("exit", killOnExit);

	try {
		await waitUntilHealthy(server, STARTUP_TIMEOUT_MS);
	} catch (error) {
		console.error(`\n--- wrangler dev log (${logFile}), last lines ---\n${logTail(logFile)}\n---`);
		await stopDevServer(server);
		process.off("exit", killOnExit);
		throw error;
	}

	project.provide("baseUrl", server.baseUrl);
	project.provide("apiToken", API_TOKEN);
	project.provide("runDir", runDir);
	project.provide("serverPid", server.pid);
	project.provide("webhookSecret", WEBHOOK_SECRET);

	return async function teardown() {
		await stopDevServer(server);
		process.off("exit", killOnExit);
		const log = await readFile(logFile, "utf8");
		// Worker errors surface only in the server log; point at them even when the tests passed.
		const serverErrors = log.split("\n").filter((line) => /unhandled error| 5\d\d /i.test(line));
		if (serverErrors.length > 0) {
			console.warn(`wrangler dev logged ${serverErrors.length} server error line(s):\n${serverErrors.slice(0, 20).join("\n")}`);
		}
		// wrangler dev restarts the Worker when src/ changes; attempts running then are cut off and
		// their tasks stay "running" until their lease ends, which explains odd timeouts.
		const reloads = log.split("Reloading local server").length - 1;
		if (reloads > 0) console.warn(`wrangler dev reloaded the Worker ${reloads} time(s) during the run (src/ changed).`);
		if (project.vitest.state.getCountOfFailedTests() > 0 || process.env.TASKFLARE_E2E_KEEP) {
			console.log(`e2e run directory kept: ${runDir} (server log: ${logFile})`);
		} else {
			await rm(runDir, { recursive: true, force: true });
		}
	};
}
