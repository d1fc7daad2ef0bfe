// Command-line options of `npm run bench`: the usage text, their schema with defaults, parsing.
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";

export const USAGE = `Usage: npm run bench -- [options]
  --n N                  tasks to submit per target (3000)
  --concurrency C        requests in flight (32)
  --lookups M            lookups of finished tasks (1000)
  --latency-samples K    idle single-task latency samples (50)
  --index-tasks T        fill the task index up to T tasks, then time list pages and stats (10000; 0 skips)
  --index-samples S      requests timed per kind of list page and for stats (20)
  --base URL             benchmark an already running taskflare instead of starting one
  --token TOKEN          its API token (default: env API_TOKEN, else dev-token)
  --no-baseline          skip the measuring stick (bench/baseline)
  --no-snapshot          run taskflare from the working tree, not from a copy taken at the start
  --json PATH            where to write the results (bench/results/latest.json)
  --deadline S           seconds after the last submit by which every task must be terminal (300)
  --poll-interval MS     baseline: pause between polls that found the oldest tasks pending (100)
  --startup-timeout S    seconds wrangler dev may take to answer /healthz (90)
  --wrangler-log-level L wrangler dev --log-level: debug|info|log|warn|error|none (info)
  -h, --help`;

const PositiveInt = z.coerce.number().int().positive();
const NonNegativeInt = z.coerce.number().int().min(0);

export const Options = z.object({
	n: PositiveInt.default(3000),
	concurrency: PositiveInt.default(32),
	lookups: NonNegativeInt.default(1000),
	latencySamples: NonNegativeInt.default(50),
	indexTasks: NonNegativeInt.default(10_000),
	indexSamples: PositiveInt.default(20),
	base: z.url({ protocol: /^https?$/ }).optional(),
	token: z.string().min(1).optional(),
	noBaseline: z.boolean().default(false),
	noSnapshot: z.boolean().default(false),
	json: z
		.string()
		.min(1)
		.default(path.join("bench", "results", "latest.json")),
	deadline: PositiveInt.default(300),
	pollInterval: NonNegativeInt.default(100),
	startupTimeout: PositiveInt.default(90),
	wranglerLogLevel: z.enum(["debug", "info", "log", "warn", "error", "none"]).default("info"),
});
export type Options = z.infer<typeof Options>;

export function readOptions(argv: readonly string[]): Options | null {
	let parsedArgs;
	try {
		parsedArgs = parseArgs({
			args: [...argv],
			strict: true,
			options: {
				n: { type: "string" },
				concurrency: { type: "string" },
				lookups: { type: "string" },
				"latency-samples": { type: "string" },
				"index-tasks": { type: "string" },
				"index-samples": { type: "string" },
				base: { type: "string" },
				token: { type: "string" },
				"no-baseline": { type: "boolean" },
				"no-snapshot": { type: "boolean" },
				json: { type: "string" },
				deadline: { type: "string" },
				"poll-interval": { type: "string" },
				"startup-timeout": { type: "string" },
				"wrangler-log-level": { type: "string" },
				help: { type: "boolean", short: "h" },
			},
		});
	} catch (error) {
		throw new UsageError(error instanceof Error ? error.message : String(error));
	}
	const { values } = parsedArgs;
	if (values.help) return null;
	const parsed = Options.safeParse({
		n: values.n,
		concurrency: values.concurrency,
		lookups: values.lookups,
		latencySamples: values["latency-samples"],
		indexTasks: values["index-tasks"],
		indexSamples: values["index-samples"],
		base: values.base?.replace(/\/+$/, ""),
		token: values.token,
		noBaseline: values["no-baseline"],
		noSnapshot: values["no-snapshot"],
		json: values.json,
		deadline: values.deadline,
		pollInterval: values["poll-interval"],
		startupTimeout: values["startup-timeout"],
		wranglerLogLevel: values["wrangler-log-level"],
	});
	if (!parsed.success) throw new UsageError(z.prettifyError(parsed.error));
	return parsed.data;
}

export class UsageError extends Error {
	override name = "UsageError";
}
