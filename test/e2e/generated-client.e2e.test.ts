// A client generated from GET /openapi.json the way a newcomer makes one (openapi-typescript's
// types, used with openapi-fetch), against the shared `wrangler dev` (see global-setup.ts):
// - the README's "Generated clients" example, taken from README.md as it is, compiles under
//   `strict` with the repository's tsc and runs (node's type stripping), doing what it says;
// - every JSON body of the README's curl examples compiles as an openapi-fetch call;
// - wrong payloads, unknown types and missing required payloads do not compile.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { REPO_ROOT } from "../../scripts/dev-server";
import { TaskRecord } from "../../src/schemas";
import { ApiClient, expectStatus, parseJson } from "./client";
import { pathTemplate } from "./openapi-routes";

const run = promisify(execFile);
const api = new ApiClient(inject("baseUrl"), inject("apiToken"));
/** The repository's own compiler (TypeScript 7). */
const TSC = path.join(path.dirname(createRequire(import.meta.url).resolve("@typescript/native/package.json")), "bin", "tsc");

let dir: string;
let readme: string;

beforeAll(async () => {
	dir = await mkdtemp(path.join(tmpdir(), "taskflare-generated-client-"));
	readme = await readFile(path.join(REPO_ROOT, "README.md"), "utf8");
	const response = await api.request("GET", "/openapi.json", { token: null });
	expectStatus(response, 200);
	// What `npx openapi-typescript <url> -o taskflare-api.d.ts` writes (the README's command).
	const types = COMMENT_HEADER + astToString(await openapiTS(response.text));
	const paths = Object.keys(parseJson(response, z.object({ paths: z.record(z.string(), z.unknown()) })).paths);
	await Promise.all([
		writeFile(path.join(dir, "taskflare-api.d.ts"), types),
		writeFile(path.join(dir, "example.ts"), readmeExample(readme)),
		writeFile(path.join(dir, "readme-bodies.ts"), readmeBodies(readme, paths)),
		writeFile(path.join(dir, "type-errors.ts"), TYPE_ERRORS),
		writeFile(path.join(dir, "package.json"), JSON.stringify({ type: "module" })),
		writeFile(path.join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2)),
		// openapi-fetch and @types/node as a project that installed them would find them.
		symlink(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"), "dir"),
	]);
});

afterAll(async () => {
	expect(api.serverErrors).toEqual([]);
	await rm(dir, { recursive: true, force: true });
});

/** A newcomer's strict project: TypeScript's own strict settings plus the ones this repository uses. */
const TSCONFIG = {
	compilerOptions: {
		strict: true,
		noUncheckedIndexedAccess: true,
		noEmit: true,
		target: "es2022",
		module: "esnext",
		moduleResolution: "bundler",
		lib: ["es2022", "dom"],
		types: ["node"],
	},
	files: ["example.ts", "readme-bodies.ts", "type-errors.ts"],
};

/** The first ```ts block after the README's "### Generated clients" heading. */
function readmeExample(text: string): string {
	const section = text.split(/^### Generated clients$/m)[1];
	const code = section === undefined ? undefined : /^```ts\n([\s\S]*?)^```$/m.exec(section)?.[1];
	if (code === undefined) throw new Error('README.md has no ```ts block under "### Generated clients".');
	return code;
}

/**
 * Every curl example of the README that sends a single-quoted JSON body, as the openapi-fetch call
 * sending that body (e.g. `PUT $TF/v1/schedules/daily-report -d '{…}'` becomes
 * `tf.PUT("/v1/schedules/{id}", { params: { path: { id: "daily-report" } }, body: {…} })`).
 */
function readmeBodies(text: string, documentedPaths: readonly string[]): string {
	const calls = text
		.replaceAll("\\\n", " ")
		.split("\n")
		.flatMap((line) => {
			const request = /curl .*-X (POST|PUT|PATCH) \$TF(\/[^\s"']*)/.exec(line);
			const body = / -d '([^']*)'/.exec(line)?.[1];
			if (!request?.[1] || !request[2] || body === undefined) return [];
			const method = request[1];
			const route = pathTemplate(documentedPaths, request[2]);
			if (route === undefined) throw new Error(`README.md: ${method} ${request[2]} is not a documented route.`);
			const params = Object.keys(route.params).length === 0 ? "" : `params: { path: ${JSON.stringify(route.params)} }, `;
			return [`\tawait tf.${method}(${JSON.stringify(route.template)}, { ${params}body: ${body} });`];
		});
	expect(calls.length, "curl examples with JSON bodies in README.md").toBeGreaterThan(15);
	return [
		'import createClient from "openapi-fetch";',
		'import type { paths } from "./taskflare-api";',
		'const tf = createClient<paths>({ baseUrl: "http://localhost:8787" });',
		"export async function readmeCurlBodies(): Promise<void> {",
		...calls,
		"}",
		"",
	].join("\n");
}

/** Calls that must not compile (each `@ts-expect-error` must find its error, or tsc fails), and some that must. */
const TYPE_ERRORS = `import createClient from "openapi-fetch";
import type { components, paths } from "./taskflare-api";

const tf = createClient<paths>({ baseUrl: "http://localhost:8787" });

export async function wrongBodies(): Promise<void> {
	// @ts-expect-error: a sleep's ms is a number
	await tf.POST("/v1/tasks", { body: { type: "sleep", payload: { ms: "soon" } } });
	// @ts-expect-error: a sleep needs its payload ({} would not pass)
	await tf.POST("/v1/tasks", { body: { type: "sleep" } });
	// @ts-expect-error: no such task type
	await tf.POST("/v1/tasks", { body: { type: "no-such-type" } });
	// @ts-expect-error: no such field
	await tf.POST("/v1/tasks", { body: { type: "echo", urgency: 1 } });
	// @ts-expect-error: batch items are typed by their type too
	await tf.POST("/v1/tasks/batch", { body: { tasks: [{ type: "sha256", payload: { text: 1 } }] } });
	// @ts-expect-error: and a schedule's task (fail needs a message)
	await tf.PUT("/v1/schedules/{id}", { params: { path: { id: "s" } }, body: { every: 60, task: { type: "fail", payload: {} } } });
}

export async function rightBodies(): Promise<void> {
	await tf.POST("/v1/tasks", { body: { type: "echo" } }); // its payload defaults to {}
	await tf.POST("/v1/tasks", { body: { type: "limited-key", payload: { ms: 10 }, priority: 9, concurrencyKey: "customer-7" } });
	await tf.PUT("/v1/limits/{type}", { params: { path: { type: "limited-key" } }, body: { keyConcurrency: 3, rateLimit: null } });
	await tf.POST("/v1/tasks", { body: { type: "echo", payload: { any: ["json", { at: 1 }] } } });
	await tf.POST("/v1/tasks", { body: { type: "sha256", payload: { text: "abc" } } }); // iterations has a default
	await tf.POST("/v1/tasks", { params: { header: { "Idempotency-Key": "order-42" } }, body: { type: "echo" } });
	await tf.POST("/process_task", { body: { any: ["json", { at: 1 }] } });
	const seed = await tf.GET("/task/{id}", { params: { path: { id: "x" } } });
	if (seed.data) {
		const result: components["schemas"]["JsonValue"] = seed.data.result; // always sent (null until succeeded)
		void result;
	}
	const task = await tf.GET("/v1/tasks/{id}", { params: { path: { id: "x" }, query: { wait: 5 } } });
	if (task.data) {
		const payload: components["schemas"]["JsonValue"] = task.data.payload; // always sent
		const member: unknown = typeof payload === "object" && payload !== null && !Array.isArray(payload) ? payload.anything : undefined;
		void member;
	}
	if (task.error) {
		const detail: string = task.error.detail; // every problem has one
		void detail;
	}
}
`;

describe("a client generated from /openapi.json (openapi-typescript + openapi-fetch)", () => {
	it("compiles the README's example and curl bodies under strict, and refuses wrong payloads", async () => {
		const checked = await run(process.execPath, [TSC, "-p", path.join(dir, "tsconfig.json")]).catch((error: unknown) => {
			const output = z.object({ stdout: z.string() }).safeParse(error);
			throw new Error(`tsc found errors:\n${output.success ? output.data.stdout : String(error)}`);
		});
		expect(checked.stdout).toBe("");
	});

	it("runs the README's example against wrangler dev", async () => {
		const { stdout } = await run(process.execPath, ["--experimental-strip-types", "--no-warnings", "example.ts"], {
			cwd: dir,
			env: { ...process.env, TASKFLARE_URL: api.baseUrl, TASKFLARE_TOKEN: inject("apiToken") },
			timeout: 100_000,
		});
		const lines = stdout.trim().split("\n");
		// The lines the README's comments promise, in order.
		expect(lines).toEqual([expect.stringMatching(/^202 \/v1\/tasks\/[0-9a-f]{64}$/), "succeeded { sleptMs: 200 }", "true", "cancelled"]);
		// The task it submitted, seen by a client that is not generated.
		const id = lines[0]?.split("/").pop() ?? "";
		const response = await api.request("GET", `/v1/tasks/${id}`);
		expectStatus(response, 200);
		expect(parseJson(response, TaskRecord)).toMatchObject({
			type: "sleep",
			status: "succeeded",
			payload: { ms: 200 },
			result: { sleptMs: 200 },
		});
	});
});
