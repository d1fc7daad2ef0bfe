// The measured Worker's files: a snapshot of taskflare's sources to run, a watch on the sources
// while measured, and the size of the state it left on disk.
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, type FSWatcher, readdirSync, readFileSync, statSync, symlinkSync, watch } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../scripts/dev-server.ts";
import { makeTempDir } from "./servers.ts";

/**
 * Watches a Worker's sources while it is measured: wrangler dev rebuilds and reloads the Worker on
 * every change (and says nothing about it at --log-level info), which would skew the numbers.
 */
export function watchSources(paths: readonly string[]): { changed: () => string[]; close: () => void } {
	const changed = new Set<string>();
	const watchers: FSWatcher[] = [];
	for (const target of paths) {
		try {
			const isDirectory = statSync(target).isDirectory();
			const watcher = watch(target, { recursive: isDirectory, persistent: false }, (_event, file) => {
				const changedPath = isDirectory && file !== null ? path.join(target, file.toString()) : target;
				if (changed.size < 20) changed.add(path.relative(REPO_ROOT, changedPath));
			});
			watcher.on("error", () => undefined);
			watchers.push(watcher);
		} catch {
			// Not watchable here: the run goes on without the check.
		}
	}
	return {
		changed: () => [...changed],
		close: () => {
			for (const watcher of watchers) watcher.close();
		},
	};
}

/**
 * A copy of taskflare's Worker as it is now (src/, wrangler.toml, and the package.json and
 * tsconfig.json that esbuild reads), in a temporary directory whose node_modules is a symlink to
 * the repository's. wrangler dev runs the copy, so edits made to these files while the benchmark
 * runs (other people's) neither reload nor change the measured Worker. (A change inside
 * node_modules still would: runtime restarts are counted and reported.)
 */
export function snapshotWorker(): { dir: string; sha256: string } {
	const dir = makeTempDir("taskflare-bench-snapshot-");
	cpSync(path.join(REPO_ROOT, "src"), path.join(dir, "src"), { recursive: true });
	for (const file of ["wrangler.toml", "package.json", "tsconfig.json"]) {
		if (existsSync(path.join(REPO_ROOT, file))) copyFileSync(path.join(REPO_ROOT, file), path.join(dir, file));
	}
	const hash = createHash("sha256");
	const walk = (at: string) => {
		for (const entry of readdirSync(at, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
			const full = path.join(at, entry.name);
			if (entry.isDirectory()) walk(full);
			else if (entry.isFile())
				hash
					.update(`${path.relative(dir, full)}\0`)
					.update(readFileSync(full))
					.update("\0");
		}
	};
	walk(dir);
	symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
	return { dir, sha256: hash.digest("hex").slice(0, 16) };
}

/** Files and bytes under the --persist-to directory (one SQLite database per Durable Object). */
export function diskUsage(dir: string): { files: number; bytes: number } | null {
	if (!existsSync(dir)) return null;
	let files = 0;
	let bytes = 0;
	const walk = (at: string) => {
		for (const entry of readdirSync(at, { withFileTypes: true })) {
			const full = path.join(at, entry.name);
			if (entry.isDirectory()) walk(full);
			else if (entry.isFile()) {
				// workerd deletes SQLite's -shm/-wal files as it goes: one may vanish between listing and stat.
				const size = statSync(full, { throwIfNoEntry: false })?.size;
				if (size === undefined) continue;
				files += 1;
				bytes += size;
			}
		}
	};
	walk(dir);
	return { files, bytes };
}
