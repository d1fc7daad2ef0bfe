// Browser tests: real Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against one
// real `wrangler dev` started by global-setup.ts. Run with `npm run test:browser`.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		root: fileURLToPath(new URL("../..", import.meta.url)),
		include: ["test/browser/**/*.browser.test.ts"],
		environment: "node",
		globalSetup: ["test/browser/global-setup.ts"],
		// Tasks run through a real local queue; pages are driven in a real browser on a shared machine.
		testTimeout: 120_000,
		hookTimeout: 120_000,
		// One server and two cores: files run one after another.
		fileParallelism: false,
	},
});
