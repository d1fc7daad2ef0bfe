// taskflare as its users get it: `npm pack` of this repository (its prepack runs `npm run build`)
// and temporary projects that install that tarball from the file system, for the tests that use
// the package from outside the repository (plain `node` importing taskflare/client; the example
// app). The package's own dependencies come from the npm registry (or npm's cache) as for a user.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../../scripts/dev-server";

const run = promisify(execFile);
/** npm prints a lot while it installs; more than the default 1 MiB is not a failure. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export type PackedPackage = {
	/** Absolute path of the .tgz. */
	tarball: string;
	/** What the tarball holds, relative to the package's root (e.g. "dist/client.js"), sorted. */
	files: string[];
};

/**
 * The environment for a child `npm` without the npm_* variables that `npm run test:e2e` sets for
 * its own script: they describe this repository's package, and the child works on another.
 */
export function npmEnvironment(): NodeJS.ProcessEnv {
	const env = { ...process.env };
	for (const name of Object.keys(env)) if (name.toLowerCase().startsWith("npm_")) delete env[name];
	return env;
}

function tarballIn(directory: string): string | undefined {
	const name = readdirSync(directory).find((file) => /^taskflare-.+\.tgz$/.test(file));
	return name === undefined ? undefined : path.join(directory, name);
}

/**
 * Packs the repository into `directory` (its prepack builds dist/ first). A later call with the same
 * directory reuses that tarball, so the test files of one e2e run (global-setup's `runDir`) pack once.
 */
export async function packTaskflare(directory: string): Promise<PackedPackage> {
	await mkdir(directory, { recursive: true });
	let tarball = tarballIn(directory);
	if (tarball === undefined) {
		await run("npm", ["pack", "--pack-destination", directory], { cwd: REPO_ROOT, env: npmEnvironment(), maxBuffer: MAX_OUTPUT_BYTES });
		tarball = tarballIn(directory);
		if (tarball === undefined) throw new Error(`npm pack wrote no taskflare-*.tgz into ${directory}`);
	}
	const { stdout } = await run("tar", ["-tzf", tarball], { maxBuffer: MAX_OUTPUT_BYTES });
	const files = stdout
		.split("\n")
		.filter((entry) => entry !== "" && !entry.endsWith("/"))
		.map((entry) => entry.replace(/^package\//, ""))
		.sort();
	return { tarball, files };
}

export type InstallOptions = {
	/** More packages to install beside taskflare, as npm install takes them (e.g. "wrangler@4"). */
	packages?: readonly string[];
};

/**
 * Installs the packed tarball into the project at `projectDir`, as `npm install ./taskflare-x.tgz`
 * would for a user. A directory without a package.json first gets a minimal ESM one.
 */
export async function installPackedTaskflare(projectDir: string, tarball: string, options: InstallOptions = {}): Promise<void> {
	await mkdir(projectDir, { recursive: true });
	if (!existsSync(path.join(projectDir, "package.json"))) {
		const manifest = { name: "taskflare-consumer", version: "0.0.0", private: true, type: "module" };
		await writeFile(path.join(projectDir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
	}
	await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball, ...(options.packages ?? [])], {
		cwd: projectDir,
		env: npmEnvironment(),
		maxBuffer: MAX_OUTPUT_BYTES,
	});
}
