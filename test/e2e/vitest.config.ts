// End-to-end tests: plain Node (not the Workers pool), against one real `wrangler dev` started by
// global-setup.ts. Run with `npm run test:e2e`.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		// Paths below are relative to the repository, wherever vitest is started from.
		root: fileURLToPath(new URL("../..", import.meta.url)),
		include: ["test/e2e/**/*.test.ts"],
		environment: "node",
		globalSetup: ["test/e2e/global-setup.ts"],
		// Tasks run through a real queue with real backoff delays.
		testTimeout: 120_000,
		hookTimeout: 120_000,
		// All files share one server; the burst test must not compete with the API tests.
		fileParallelism: false,
	},
});
