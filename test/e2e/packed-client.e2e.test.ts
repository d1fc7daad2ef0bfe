// The npm package from outside the repository: `npm pack` (which builds dist/), the tarball installed
// into a temporary project, and taskflare/client used there by plain `node` 22 (type stripping off,
// no bundler, no loader) against the shared `wrangler dev`, and by tsc resolving like Node
// ("moduleResolution": "nodenext"), which finds the .d.ts files only when their imports name files.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { TaskRecord } from "../../src/schemas";
import { installPackedTaskflare, type PackedPackage, packTaskflare } from "./packed-package";

const run = promisify(execFile);
const baseUrl = inject("baseUrl");
const token = inject("apiToken");
const runDir = inject("runDir");
const projectDir = path.join(runDir, "packed-client");
const TSC = path.join(path.dirname(createRequire(import.meta.url).resolve("@typescript/native/package.json")), "bin", "tsc");

/** npm pack builds first; npm install may fetch the dependencies' metadata: minutes on a loaded machine. */
const SETUP_TIMEOUT_MS = 300_000;

let packed: PackedPackage;

beforeAll(async () => {
	packed = await packTaskflare(path.join(runDir, "pack"));
	await installPackedTaskflare(projectDir, packed.tarball);
}, SETUP_TIMEOUT_MS);

/** Runs plain node in the temporary project (so `taskflare` resolves from its node_modules). */
async function node(args: readonly string[]): Promise<string> {
	const { stdout } = await run(process.execPath, ["--no-experimental-strip-types", ...args], {
		cwd: projectDir,
		env: { ...process.env, TASKFLARE_URL: baseUrl, TASKFLARE_TOKEN: token },
		timeout: 120_000,
	});
	return stdout;
}

describe("npm pack", () => {
	it("holds the built output of both entry points, the README and the CHANGELOG, and nothing else", () => {
		const outside = packed.files.filter(
			(file) => !file.startsWith("dist/") && !["package.json", "README.md", "CHANGELOG.md"].includes(file),
		);
		expect(outside).toEqual([]);
		expect(packed.files).toEqual(
			expect.arrayContaining([
				"CHANGELOG.md",
				"README.md",
				"dist/client.d.ts",
				"dist/client.js",
				"dist/taskflare.d.ts",
				"dist/taskflare.js",
			]),
		);
		// Not this repository's Worker (src/index.ts) nor its example task types: the build keeps only
		// what the exports reach.
		expect(packed.files.filter((file) => /^dist\/(index|tasks\/(examples|echo|fail|flaky|sha256|sleep))\./.test(file))).toEqual([]);
		// No TypeScript sources besides declarations (src/ stays out; the maps carry the sources).
		expect(packed.files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))).toEqual([]);
	});
});

describe("taskflare/client under plain node", () => {
	it("node -e imports it", async () => {
		const stdout = await node(["-e", 'import("taskflare/client").then((m) => console.log(Object.keys(m).sort().join(",")))']);
		expect(stdout.trim()).toBe("OperationTimeoutError,TaskflareError,WaitTimeoutError,createClient");
	});

	it("an .mjs submits a task and waits for its result; a wrong token is a TaskflareError", async () => {
		const script = path.join(projectDir, "submit-and-wait.mjs");
		await writeFile(
			script,
			[
				'import { createClient, TaskflareError } from "taskflare/client";',
				"const { TASKFLARE_URL: baseUrl, TASKFLARE_TOKEN: token } = process.env;",
				"const client = createClient({ baseUrl, token });",
				'const queued = await client.submit({ type: "echo", payload: { from: "plain node", n: 22 } });',
				"const done = await client.wait(queued.id, { timeoutMs: 60_000 });",
				"let unauthorized = null;",
				"try {",
				'\tawait createClient({ baseUrl, token: "not-the-token" }).get(queued.id);',
				"} catch (error) {",
				"\tunauthorized = error instanceof TaskflareError ? error.status : String(error);",
				"}",
				"console.log(JSON.stringify({ queued, done, unauthorized }));",
				"",
			].join("\n"),
		);
		const output = z.object({ queued: TaskRecord, done: TaskRecord, unauthorized: z.unknown() }).parse(JSON.parse(await node([script])));
		expect(output.queued).toMatchObject({ type: "echo", status: "queued" });
		expect(output.done).toMatchObject({ id: output.queued.id, status: "succeeded", result: { from: "plain node", n: 22 }, attempts: 1 });
		expect(output.unauthorized).toBe(401);
	});
});

describe("taskflare/client's types from the tarball", () => {
	it('compile under "moduleResolution": "nodenext", strict, and are not any', async () => {
		await writeFile(
			path.join(projectDir, "tsconfig.json"),
			JSON.stringify({
				compilerOptions: {
					target: "es2024",
					module: "nodenext",
					moduleResolution: "nodenext",
					lib: ["es2024", "dom", "dom.asynciterable"],
					types: [],
					strict: true,
					noEmit: true,
					skipLibCheck: true,
				},
				files: ["check.ts"],
			}),
		);
		await writeFile(
			path.join(projectDir, "check.ts"),
			[
				'import { createClient, TaskflareError, type TaskRecord, type TaskStatus } from "taskflare/client";',
				'const client = createClient({ baseUrl: "http://127.0.0.1:8787", token: "t" });',
				"export async function statusOf(id: string): Promise<TaskStatus | number> {",
				"\ttry {",
				"\t\tconst record: TaskRecord = await client.get(id);",
				"\t\t// @ts-expect-error a status is one of the known ones (were the types unresolved, this would be any)",
				'\t\tconst unknownStatus: "no-such-status" = record.status;',
				"\t\tvoid unknownStatus;",
				"\t\t// @ts-expect-error a submit body names its task type",
				"\t\tawait client.submit({ payload: { n: 1 } });",
				"\t\treturn record.status;",
				"\t} catch (error) {",
				"\t\tif (error instanceof TaskflareError) return error.problem.status;",
				"\t\tthrow error;",
				"\t}",
				"}",
				"",
			].join("\n"),
		);
		const result = await run(process.execPath, [TSC, "-p", projectDir], { cwd: projectDir }).then(
			() => "",
			(error: unknown) => (error instanceof Error && "stdout" in error ? String(error.stdout) : String(error)),
		);
		expect(result).toBe("");
	});
});
