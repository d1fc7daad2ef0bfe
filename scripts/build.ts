// `npm run build`: the npm package's dist/ (ESM JavaScript, .d.ts, source maps). tsc (TypeScript 7,
// tsconfig.build.json) compiles src/; this script then does the two things tsc cannot:
//  1. It gives every relative import the file name Node's ESM loader needs. src/ imports "./schemas"
//     (wrangler, vitest and tsc's "bundler" resolution find the file), but plain `node` and a
//     TypeScript project resolving with "moduleResolution": "nodenext" only find "./schemas.js" (or
//     "./x/index.js"). tsc never adds a missing extension, and rewrites a written ".ts" one
//     (rewriteRelativeImportExtensions) in the JavaScript only, not in the .d.ts files.
//  2. It keeps only the files the package's entry points (the "exports" of package.json) reach: tsc
//     compiles all of src/, including the example Worker (src/index.ts) and its task types, which
//     must not ship.
//  3. It drops the `/** @jsxImportSource hono/jsx */` pragmas of src/dashboard/*.tsx that tsc copies
//     into the JavaScript as comments. The JSX is compiled already; esbuild (wrangler) would warn
//     "unsupported-jsx-comment" about each on every `wrangler dev` and deploy of a user's Worker.
//     The line stays, emptied, so the source maps still match.
// A relative import that names no compiled file fails the build, and so does an export whose file
// is missing. Imports only node:*, so Node runs it directly with type stripping.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = path.join(ROOT, "dist");
const require = createRequire(import.meta.url);
const TSC = path.join(path.dirname(require.resolve("@typescript/native/package.json")), "bin", "tsc");

/** `from "./x"`, `import "./x"`, `import("./x")` (also the type imports tsc writes in .d.ts files), and "." or "..". */
const RELATIVE_SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}(?:\/[^"'\n]*)?)\2/g;

/** A JSX pragma comment (`@jsx`, `@jsxImportSource`, `@jsxRuntime`, `@jsxFrag`) alone on its line. */
const JSX_PRAGMA_LINE = /^[ \t]*\/\*\*?\s*@jsx\w*\s[^*]*\*\/[ \t]*$/gm;

class BuildError extends Error {
	override name = "BuildError";
}

/** Every file path named by package.json "exports" (each condition of each subpath), relative to the root. */
function exportedFiles(): string[] {
	const manifest: unknown = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
	const exports = typeof manifest === "object" && manifest !== null && "exports" in manifest ? manifest.exports : undefined;
	const files: string[] = [];
	const collect = (value: unknown): void => {
		if (typeof value === "string") files.push(value);
		else if (typeof value === "object" && value !== null) Object.values(value).forEach(collect);
	};
	collect(exports);
	if (files.length === 0) throw new BuildError('package.json has no "exports"');
	return files;
}

/** The module a compiled file belongs to: dist/x.js, dist/x.d.ts and dist/x.js.map all give dist/x. */
function moduleOf(file: string): string {
	return file.replace(/(\.d\.ts|\.js\.map|\.js)$/, "");
}

/** The compiled module a relative specifier names, and the specifier node needs for it. */
function resolveSpecifier(fromFile: string, specifier: string): { module: string; specifier: string } {
	// "./x", "./x.ts" and "./x.tsx" all name the compiled "./x.js".
	const stem = specifier.replace(/\.tsx?$/, "");
	const base = path.resolve(path.dirname(fromFile), stem);
	if (stem.endsWith(".js") && existsSync(base)) return { module: moduleOf(base), specifier: stem };
	if (existsSync(`${base}.js`)) return { module: base, specifier: `${stem}.js` };
	if (existsSync(path.join(base, "index.js"))) return { module: path.join(base, "index"), specifier: `${stem}/index.js` };
	throw new BuildError(`${path.relative(ROOT, fromFile)} imports "${specifier}", which names no compiled file`);
}

/** Rewrites the relative imports of one compiled file in place (and empties its JSX pragma lines); returns the modules it imports. */
function fixCompiledFile(file: string): string[] {
	const imported: string[] = [];
	const text = readFileSync(file, "utf8");
	const compiled = text.replace(JSX_PRAGMA_LINE, "");
	const fixed = compiled.replace(RELATIVE_SPECIFIER, (_match, lead: string, quote: string, specifier: string) => {
		const resolved = resolveSpecifier(file, specifier);
		imported.push(resolved.module);
		return `${lead}${quote}${resolved.specifier}${quote}`;
	});
	if (fixed !== text) writeFileSync(file, fixed);
	return imported;
}

function filesUnder(dir: string): string[] {
	return readdirSync(dir, { recursive: true, withFileTypes: true })
		.filter((entry) => entry.isFile())
		.map((entry) => path.join(entry.parentPath, entry.name));
}

/** Deletes the directories under `dir` that the pruning left empty (deepest first). */
function removeEmptyDirectories(dir: string): void {
	const dirs = readdirSync(dir, { recursive: true, withFileTypes: true })
		.filter((entry) => entry.isDirectory())
		.map((entry) => path.join(entry.parentPath, entry.name))
		.sort((a, b) => b.length - a.length);
	for (const sub of dirs) if (readdirSync(sub).length === 0) rmSync(sub, { recursive: true });
}

function build(): void {
	const entries = exportedFiles();
	for (const entry of entries) {
		if (!entry.startsWith("./dist/")) throw new BuildError(`package.json exports "${entry}", which is not under ./dist/`);
	}
	rmSync(DIST, { recursive: true, force: true });
	const tsc = spawnSync(process.execPath, [TSC, "-p", path.join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
	if (tsc.status !== 0) throw new BuildError("tsc failed (its diagnostics are above)");

	// Walk the import graph from the entry points, fixing each module's .js and .d.ts on the way.
	const reached = new Set<string>();
	const pending = entries.map((entry) => moduleOf(path.join(ROOT, entry)));
	for (let module = pending.pop(); module !== undefined; module = pending.pop()) {
		if (reached.has(module)) continue;
		reached.add(module);
		for (const file of [`${module}.js`, `${module}.d.ts`]) {
			if (!existsSync(file)) throw new BuildError(`tsc wrote no ${path.relative(ROOT, file)}`);
			pending.push(...fixCompiledFile(file));
		}
	}

	const dropped = filesUnder(DIST).filter((file) => !reached.has(moduleOf(file)));
	for (const file of dropped) rmSync(file);
	removeEmptyDirectories(DIST);
	for (const entry of entries) {
		if (!existsSync(path.join(ROOT, entry))) throw new BuildError(`package.json exports "${entry}", which the build did not produce`);
	}
	const kept = filesUnder(DIST).filter((file) => file.endsWith(".js")).length;
	const droppedModules = new Set(dropped.map(moduleOf)).size;
	console.log(`dist/: ${kept} modules for ${entries.length} export targets; ${droppedModules} compiled modules not reached, left out`);
}

try {
	build();
} catch (error) {
	// No half-built dist/ is left behind, whatever failed.
	rmSync(DIST, { recursive: true, force: true });
	if (!(error instanceof BuildError)) throw error;
	console.error(`build: ${error.message}`);
	process.exit(1);
}
