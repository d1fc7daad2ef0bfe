// The adoption example (examples/hono-app: an existing Hono app that added taskflare under /jobs)
// against the package as npm installs it. The repository is packed (`npm pack`, whose prepack
// builds it; packed-package.ts, once per e2e run), the example copied to a temporary directory
// with nothing of this repository around it, the tarball installed there with the example's own
// dependencies, the example type-checked with its own `npm run typecheck` (wrangler types + tsc)
// and again with skipLibCheck false, bundled without warnings (`wrangler dev`, `wrangler deploy
// --dry-run`), started with its own `wrangler dev`, and driven over HTTP: a task submitted by the app's own
// route (tf.submit) and one submitted through the mounted API (/jobs/v1/tasks) both succeed. Its
// own server, not the shared one of global-setup.ts.
import { execFile } from "node:child_process";
import { cp, readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify, stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { z } from "zod";
import { JsonValue, TaskStatus } from "../../src/schemas";
import {
	type DevServer,
	findFreePort,
	killGroupNow,
	logTail,
	REPO_ROOT,
	startDevServer,
	stopDevServer,
	waitUntilHealthy,
} from "../../scripts/dev-server";
import { ApiClient, expectStatus, parseJson } from "./client";
import { installPackedTaskflare, npmEnvironment, packTaskflare } from "./packed-package";

const EXAMPLE_DIR = path.join(REPO_ROOT, "examples", "hono-app");
/** global-setup's directory for this run (kept when a test failed or TASKFLARE_E2E_KEEP is set). */
const runDir = inject("runDir");
const appDir = path.join(runDir, "hono-app");
/** What a checkout of the example may hold that a fresh copy must not (installs, state, generated types). */
const NOT_COPIED = new Set(["node_modules", ".wrangler", ".dev.vars", "worker-configuration.d.ts"]);
/** The example app's own bearer token (its APP_TOKEN secret), for /api/* and /jobs/*. */
const APP_TOKEN = "example-app-token";
/** First start bundles the app and boots workerd; slow machines need a while. */
const STARTUP_TIMEOUT_MS = 90_000;
/** npm pack builds first; npm install may fetch the dependencies' metadata: minutes on a loaded machine. */
const SETUP_TIMEOUT_MS = 300_000;
const TASK_DEADLINE_MS = 60_000;

const execFileAsync = promisify(execFile);

/** Runs npm in the example's directory; returns its output (stdout, then stderr), and the error carries it. */
async function npm(args: string[]): Promise<string> {
	try {
		const { stdout, stderr } = await execFileAsync("npm", args, { cwd: appDir, env: npmEnvironment(), maxBuffer: 64 * 1024 * 1024 });
		return `${stdout}${stderr}`;
	} catch (error) {
		const stdout = error instanceof Error && "stdout" in error ? String(error.stdout).slice(-4_000) : "";
		const stderr = error instanceof Error && "stderr" in error ? String(error.stderr).slice(-4_000) : "";
		throw new Error(`npm ${args.join(" ")} (in ${appDir}) failed: ${String(error)}\n${stdout}\n${stderr}`);
	}
}

let server: DevServer | undefined;
let app: ApiClient;
let jobs: ApiClient;
const killOnExit = () => {
	if (server) killGroupNow(server.pid);
};

beforeAll(async () => {
	const { tarball } = await packTaskflare(path.join(runDir, "pack"));
	await cp(EXAMPLE_DIR, appDir, { recursive: true, filter: (source) => !NOT_COPIED.has(path.basename(source)) });
	// As a newcomer would (`npm install taskflare`), from the tarball; the example's other
	// dependencies (hono, zod, wrangler, typescript) come from npm's cache where it can.
	await installPackedTaskflare(appDir, tarball);
	process.once("exit", killOnExit);
	server = await startDevServer({
		projectDir: appDir,
		port: await findFreePort(),
		persistTo: path.join(runDir, "hono-app-state"),
		logFile: path.join(runDir, "hono-app-wrangler-dev.log"),
		apiToken: null,
		vars: { APP_TOKEN },
	});
	try {
		// The app's own public route: taskflare's /jobs/healthz is behind the app's auth.
		await waitUntilHealthy(server, STARTUP_TIMEOUT_MS, "/");
	} catch (error) {
		console.error(`\n--- wrangler dev log (${server.logFile}), last lines ---\n${logTail(server.logFile)}\n---`);
		throw error;
	}
	app = new ApiClient(server.baseUrl, APP_TOKEN);
	jobs = new ApiClient(`${server.baseUrl}/jobs`, APP_TOKEN);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
	if (server) await stopDevServer(server);
	process.off("exit", killOnExit);
});

it("type-checks under strict with the packed package's declarations and its own generated env type", async () => {
	// A newcomer copying the example gets the range of the version this repository packs.
	const Manifest = z.object({ version: z.string().optional(), dependencies: z.record(z.string(), z.string()).optional() });
	const manifest = async (file: string) => Manifest.parse(JSON.parse(await readFile(file, "utf8")));
	const { version } = await manifest(path.join(REPO_ROOT, "package.json"));
	expect((await manifest(path.join(EXAMPLE_DIR, "package.json"))).dependencies?.taskflare).toBe(`^${version}`);

	await npm(["run", "typecheck"]);
	// `wrangler types --env-interface CloudflareBindings` (as create-hono's apps have it: no global
	// `Env`) typed taskflare's bindings with the app's own classes, and tsc accepted that env.
	const generated = await readFile(path.join(appDir, "worker-configuration.d.ts"), "utf8");
	expect(generated).toMatch(/TASK_OBJECT: DurableObjectNamespace<import\("\.\/src\/index"\)\.TaskObject>/);
	expect(generated).toMatch(/interface CloudflareBindings /);

	// Again with the .d.ts files checked too (skipLibCheck false, as many projects have it): the
	// package's declarations must compile in an app whose env is not a global `Env`.
	await npm(["exec", "--no", "--", "tsc", "--skipLibCheck", "false"]);
}, 120_000);

it("bundles the package without warnings on wrangler dev and deploy", async () => {
	// esbuild (inside wrangler) warns about what it finds in the package's JavaScript, e.g. a JSX
	// pragma comment left in compiled files ("unsupported-jsx-comment"): the app's developers
	// would see those on every start and deploy.
	if (!server) throw new Error("the example's wrangler dev did not start");
	const devLog = stripVTControlCharacters(await readFile(server.logFile, "utf8"));
	expect(devLog).not.toContain("unsupported-jsx-comment");
	const deploy = await npm(["exec", "--no", "--", "wrangler", "deploy", "--dry-run", "--outdir", path.join(runDir, "hono-app-dry-run")]);
	const warnings = stripVTControlCharacters(deploy)
		.split("\n")
		.filter((line) => line.includes("WARNING"));
	expect(warnings).toEqual([]);
}, 120_000);

const SignupAccepted = z.strictObject({ welcomeEmailTaskId: z.string() });
const WelcomeEmail = z.strictObject({ status: TaskStatus, result: JsonValue });

it("runs a task submitted by the app's own route (tf.submit) with the app's env", async () => {
	const signup = await app.request("POST", "/api/signups", { json: { email: "ada@example.com", name: "Ada" } });
	expectStatus(signup, 202);
	const { welcomeEmailTaskId } = parseJson(signup, SignupAccepted);

	// The app's own status route (tf.get), polled until the task is final.
	const deadline = Date.now() + TASK_DEADLINE_MS;
	let email = parseJson(await app.request("GET", `/api/signups/emails/${welcomeEmailTaskId}`), WelcomeEmail);
	while (!["succeeded", "failed", "cancelled"].includes(email.status) && Date.now() < deadline) {
		await delay(200);
		email = parseJson(await app.request("GET", `/api/signups/emails/${welcomeEmailTaskId}`), WelcomeEmail);
	}
	expect(email).toEqual({
		status: "succeeded",
		// APP_NAME comes from the app's wrangler.toml: the handler got the app's env.
		result: { to: "ada@example.com", subject: "Welcome to My App, Ada!", messageId: `welcome-${welcomeEmailTaskId}` },
	});

	// The same task through the mounted HTTP API: the payload tf.submit stored, and its tag.
	const record = await jobs.getTask(welcomeEmailTaskId);
	expect(record).toMatchObject({ type: "send-welcome-email", status: "succeeded", payload: { to: "ada@example.com", name: "Ada" } });
	expect(record.tags).toEqual(["signup"]);
});

it("runs a task submitted through the API mounted at /jobs", async () => {
	const { record, location } = await jobs.submit({ type: "send-welcome-email", payload: { to: "bob@example.com", name: "Bob" } });
	expect(record.status).toBe("queued");
	expect(location).toBe(`/jobs/v1/tasks/${record.id}`);
	const final = await jobs.waitForTerminal(record.id, TASK_DEADLINE_MS);
	expect(final).toMatchObject({
		status: "succeeded",
		attempts: 1,
		result: { to: "bob@example.com", subject: "Welcome to My App, Bob!", messageId: `welcome-${record.id}` },
	});
});

it("keeps the app's own auth in front of its routes and taskflare's", async () => {
	for (const [method, route] of [
		["POST", "/api/signups"],
		["GET", "/jobs/v1/tasks"],
		["POST", "/jobs/v1/tasks"],
	] as const) {
		expect((await app.request(method, route, { token: null })).status, `${method} ${route} without a token`).toBe(401);
		expect((await app.request(method, route, { token: "not-the-app-token" })).status, `${method} ${route} with a wrong token`).toBe(401);
	}
	// A bad sign-up is the app's own 422, before anything reaches taskflare.
	const bad = await app.request("POST", "/api/signups", { json: { email: "not-an-email", name: "" } });
	expect(bad.status).toBe(422);
});
