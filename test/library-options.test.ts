// The library entry's options: task types given once, settings that override vars, renamed
// bindings, and the routes mounted into a host Hono app under a prefix (with taskflare's bearer
// auth, or with the host's own).
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Problem, TaskRecord, TaskStats } from "../src/schemas";
import { defineTask, taskflare } from "../src/taskflare";
import { exampleTasks } from "../src/tasks/examples";
import { queueMessage, readRecord, TOKEN, createTask } from "./helpers";

const BASE = "https://host.test";

function request(path: string, init: RequestInit & { token?: string; json?: unknown } = {}) {
	const { token, json, ...rest } = init;
	const headers = new Headers(rest.headers);
	if (token !== undefined) headers.set("Authorization", `Bearer ${token}`);
	if (json !== undefined) {
		headers.set("Content-Type", "application/json");
		rest.body = JSON.stringify(json);
		rest.method ??= "POST";
	}
	return new Request(`${BASE}${path}`, { ...rest, headers });
}

describe("taskflare() options", () => {
	it("refuses two task types of one name, and invalid settings, naming them", () => {
		const twin = defineTask({ type: "echo", description: "Another echo.", input: z.object({}), run: () => null });
		expect(() => taskflare({ tasks: [...exampleTasks, twin] })).toThrow('two task types are named "echo"');
		expect(() => taskflare({ tasks: exampleTasks, indexShards: 0 })).toThrow(/invalid option indexShards/);
		expect(() => taskflare({ tasks: exampleTasks, redriveAfterSeconds: 1.5, resultTtlSeconds: -1 })).toThrow(
			/redriveAfterSeconds.*resultTtlSeconds|resultTtlSeconds.*redriveAfterSeconds/,
		);
		expect(() => taskflare({ tasks: exampleTasks, token: "" })).toThrow("option token");
	});

	it("a token option replaces the API_TOKEN var; without it the var is used", async () => {
		const own = taskflare({ tasks: exampleTasks, token: "option-token" });
		const ctx = createExecutionContext();
		expect((await own.fetch(request("/v1/task-types", { token: "option-token" }), env, ctx)).status).toBe(200);
		expect((await own.fetch(request("/v1/task-types", { token: TOKEN }), env, ctx)).status).toBe(401);
		const fromVar = taskflare({ tasks: exampleTasks });
		expect((await fromVar.fetch(request("/v1/task-types", { token: TOKEN }), env, ctx)).status).toBe(200);
	});

	it("settings reach the routes (retention in /v1/stats) and the consumer (the dead-letter queue's name)", async () => {
		const tf = taskflare({ tasks: exampleTasks, resultTtlSeconds: 3600, deadLetterQueue: "elsewhere-dlq" });
		const stats = await tf.fetch(request("/v1/stats", { token: TOKEN }), env, createExecutionContext());
		expect(TaskStats.parse(await stats.json()).retentionSeconds).toBe(3600);
		// A batch from the queue named by the option is handled as dead letters: the task fails.
		const { id, stub } = await createTask("echo");
		const batch = createMessageBatch("elsewhere-dlq", [queueMessage({ id })]);
		await tf.queue(batch, env);
		expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(1);
		expect(await readRecord(stub)).toMatchObject({ status: "failed", error: { name: "DeliveryError" } });
	});

	it("reads renamed bindings, and names a missing one", async () => {
		const sent: unknown[] = [];
		const jobs: Queue = {
			send: async (body, options) => {
				sent.push(body);
				return env.TASK_QUEUE.send(body, options);
			},
			sendBatch: async (messages, options) => {
				sent.push(...[...messages].map((message) => message.body));
				return env.TASK_QUEUE.sendBatch(messages, options);
			},
			metrics: () => env.TASK_QUEUE.metrics(),
		};
		const tf = taskflare({ tasks: exampleTasks, bindings: { taskQueue: "JOBS", taskObject: "TASKS" } });
		const renamed = { ...env, JOBS: jobs, TASKS: env.TASK_OBJECT };
		Reflect.deleteProperty(renamed, "TASK_QUEUE");
		Reflect.deleteProperty(renamed, "TASK_OBJECT");
		const task = await tf.submit(renamed, "echo", { renamed: true });
		expect(sent).toEqual([{ id: task.id, type: "echo" }]);
		expect(await tf.get(renamed, task.id)).toMatchObject({ id: task.id });

		const defaults = taskflare({ tasks: exampleTasks });
		await expect(defaults.submit(renamed, "echo", {})).rejects.toThrow(
			'no Durable Object binding "TASK_OBJECT" (class_name "TaskObject"). Add it to wrangler.toml, or name yours with the option bindings.taskObject',
		);
	});
});

describe("mounted into a host Hono app", () => {
	it("serves /jobs/v1/tasks behind taskflare's bearer token, with prefixed Location and OpenAPI servers", async () => {
		const tf = taskflare({ tasks: exampleTasks });
		const host = new Hono<{ Bindings: Cloudflare.Env }>();
		host.get("/", (c) => c.text("the host's own page"));
		host.route("/jobs", tf.routes);
		const ctx = createExecutionContext();

		const created = await host.fetch(request("/jobs/v1/tasks", { token: TOKEN, json: { type: "echo", delaySeconds: 3600 } }), env, ctx);
		expect(created.status).toBe(202);
		const record = TaskRecord.parse(await created.json());
		expect(created.headers.get("Location")).toBe(`/jobs/v1/tasks/${record.id}`);
		const fetched = await host.fetch(request(`/jobs/v1/tasks/${record.id}`, { token: TOKEN }), env, ctx);
		expect(TaskRecord.parse(await fetched.json()).id).toBe(record.id);

		const refused = await host.fetch(request("/jobs/v1/tasks"), env, ctx);
		expect(refused.status).toBe(401);
		expect(refused.headers.get("WWW-Authenticate")).toContain("Bearer");
		expect(Problem.parse(await refused.json()).status).toBe(401);

		const document = z
			.object({ servers: z.array(z.object({ url: z.string() })) })
			.parse(await (await host.fetch(request("/jobs/openapi.json"), env, ctx)).json());
		expect(document.servers).toEqual([{ url: "/jobs" }]);
		expect(await (await host.fetch(request("/"), env, ctx)).text()).toBe("the host's own page");
		// The dashboard is not part of the mountable routes (its paths are absolute): the host's 404.
		expect((await host.fetch(request("/jobs/dashboard"), env, ctx)).status).toBe(404);
	});

	it('with auth: "none" the host\'s own middleware decides, and gets its own env back', async () => {
		const tf = taskflare({ tasks: exampleTasks, auth: "none" });
		const host = new Hono<{ Bindings: Cloudflare.Env }>();
		host.use("/jobs/*", async (c, next) => {
			if (c.req.header("X-Host-Key") !== "host-secret") return c.text("host says no", 403);
			await next();
			c.header("X-Env-Is-Host", String(c.env === env));
		});
		host.route("/jobs", tf.routes);
		const ctx = createExecutionContext();
		const list = await host.fetch(request("/jobs/v1/task-types", { headers: { "X-Host-Key": "host-secret" } }), env, ctx);
		expect(list.status).toBe(200);
		expect(list.headers.get("X-Env-Is-Host")).toBe("true");
		const created = await host.fetch(
			request("/jobs/v1/tasks", { json: { type: "echo", delaySeconds: 3600 }, headers: { "X-Host-Key": "host-secret" } }),
			env,
			ctx,
		);
		expect(created.status).toBe(202);
		expect((await host.fetch(request("/jobs/v1/task-types"), env, ctx)).status).toBe(403);
		// Protected routes are still never cached.
		expect(list.headers.get("Cache-Control")).toBe("no-store");
	});

	it("the dashboard mounts at the root of a host app", async () => {
		const tf = taskflare({ tasks: exampleTasks });
		const host = new Hono<{ Bindings: Cloudflare.Env }>();
		host.route("/", tf.dashboard);
		const signIn = await host.fetch(request("/dashboard/sign-in"), env, createExecutionContext());
		expect(signIn.status).toBe(200);
		expect(await signIn.text()).toContain('action="/dashboard/sign-in"');
	});
});
