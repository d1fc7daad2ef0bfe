import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Unit and integration tests, inside workerd, against the real wrangler.toml bindings.
export default defineConfig({
	plugins: [
		cloudflareTest({
			wrangler: { configPath: "./wrangler.toml" },
			miniflare: {
				// `exports.default.queue()` (integration tests of the consumer) needs this flag.
				compatibilityFlags: ["service_binding_extra_handlers"],
				bindings: {
					API_TOKEN: "test-token",
					// HTTP tasks and callbacks (test/outbound-mock.ts answers their requests). The secret is
					// the Standard Webhooks specification's test-vector key.
					HTTP_ALLOWED_HOSTS: "api.example.com,*.example.net",
					WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				},
				// No test reaches the network: a request no test intercepts gets this answer.
				outboundService: () => new Response("no network in tests", { status: 599 }),
				queueConsumers: {
					"taskflare-tasks": { maxBatchTimeout: 0.05 },
					"taskflare-tasks-dlq": { maxBatchTimeout: 0.05 },
				},
			},
		}),
	],
	test: {
		include: ["test/**/*.test.ts"],
		exclude: ["test/e2e/**", "test/browser/**"],
		// Some tests wait for the local queue to run tasks (polling with deadlines of their own).
		testTimeout: 30_000,
	},
});
