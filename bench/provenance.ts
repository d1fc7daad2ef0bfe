// What was measured with what: the wrangler version, and the git commit of the measured sources.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { REPO_ROOT } from "../scripts/dev-server.ts";
import { parseJson } from "./http.ts";

export function wranglerVersion(): string | null {
	try {
		const manifest = readFileSync(path.join(REPO_ROOT, "node_modules", "wrangler", "package.json"), "utf8");
		return parseJson(z.object({ version: z.string() }), manifest).version;
	} catch {
		return null;
	}
}

export function gitCommit(): string | null {
	try {
		const git = (...args: string[]) => execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
		const head = git("rev-parse", "--short", "HEAD");
		const dirty = git("status", "--porcelain", "--", "src", "wrangler.toml", "package.json");
		return dirty === "" ? head : `${head}+uncommitted`;
	} catch {
		return null;
	}
}
