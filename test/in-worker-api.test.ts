// The typed in-Worker API of the library entry (tf.submit / get / wait / cancel / list): no HTTP,
// no token, the same records and rules as the routes. The tasks run on the Worker under test
// (src/index.ts), which has the same task types.
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { ProblemError } from "../src/errors";
import { TaskRecord } from "../src/schemas";
import { taskflare } from "../src/taskflare";
import { exampleTasks } from "../src/tasks/examples";
import { api } from "./helpers";

const tf = taskflare({ tasks: exampleTasks });

/** The ProblemError `promise` rejects with. */
async function problemOf(promise: Promise<unknown>): Promise<ProblemError> {
	const error: unknown = await promise.then(
		() => null,
		(reason: unknown) => reason,
	);
	if (!(error instanceof ProblemError)) throw new Error(`expected a ProblemError, got ${String(error)}`);
	return error;
}

describe("tf.submit / get / wait", () => {
	it("submits a typed task, which runs; wait returns its final record, get the same", async () => {
		const tag = `inworker-${crypto.randomUUID()}`;
		const submitted = await tf.submit(env, "sha256", { text: "abc", iterations: 1 }, { tags: [tag], maxAttempts: 2 });
		expect(submitted).toMatchObject({
			type: "sha256",
			status: "queued",
			tags: [tag],
			maxAttempts: 2,
			payload: { text: "abc", iterations: 1 },
		});
		let done: TaskRecord | null = null;
		for (const deadline = Date.now() + 20_000; Date.now() < deadline && done?.status !== "succeeded";) {
			done = await tf.wait(env, submitted.id, { timeoutSeconds: 5 });
		}
		expect(done).toMatchObject({ id: submitted.id, status: "succeeded", attempts: 1 });
		expect(done?.result).toEqual({ hex: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" });
		// The record is the one the HTTP route serves.
		const overHttp = TaskRecord.parse(await (await api(`/v1/tasks/${submitted.id}`)).json());
		expect(await tf.get(env, submitted.id)).toEqual(overHttp);
	});

	it("answers null for an unknown or malformed id", async () => {
		expect(await tf.get(env, "0".repeat(64))).toBeNull();
		expect(await tf.get(env, "not-an-id")).toBeNull();
		expect(await tf.wait(env, "not-an-id", { timeoutSeconds: 0 })).toBeNull();
		await expect(tf.wait(env, "not-an-id", { timeoutSeconds: 61 })).rejects.toThrow(RangeError);
	});

	it("rejects a bad payload or envelope with the route's 422 problem and paths", async () => {
		const payload = await problemOf(tf.submit(env, "sleep", { ms: -1 }));
		expect(payload).toMatchObject({ kind: "validation-failed", status: 422 });
		expect(payload.errors?.map((error) => error.path)).toEqual(["payload.ms"]);
		const envelope = await problemOf(tf.submit(env, "echo", {}, { delaySeconds: -5, tags: ["has space"] }));
		expect(envelope.errors?.map((error) => error.path).sort()).toEqual(["delaySeconds", "tags.0"]);
		// A type the compiler would refuse (see typed-api.test-d.ts) is refused at run time too.
		// @ts-expect-error: not a task type of this Worker
		const unknownType = await problemOf(tf.submit(env, "nope", {}));
		expect(unknownType.errors?.[0]).toMatchObject({ path: "type" });
		expect(unknownType.errors?.[0]?.message).toContain("Known types: echo, sleep, sha256, flaky, fail");
	});

	it("an idempotency key returns the first task, in-Worker and over HTTP alike", async () => {
		const key = `inworker-${crypto.randomUUID()}`;
		const first = await tf.submit(env, "echo", { order: 7 }, { idempotencyKey: key, delaySeconds: 3600 });
		const again = await tf.submit(env, "echo", { order: 7 }, { idempotencyKey: key, delaySeconds: 3600 });
		expect(again.id).toBe(first.id);
		const overHttp = await api("/v1/tasks", {
			json: { type: "echo", payload: { order: 7 }, delaySeconds: 3600 },
			headers: { "Idempotency-Key": key },
		});
		expect(overHttp.status).toBe(200);
		expect(TaskRecord.parse(await overHttp.json()).id).toBe(first.id);
		const conflict = await problemOf(tf.submit(env, "echo", { order: 8 }, { idempotencyKey: key }));
		expect(conflict.errors?.[0]?.path).toBe("Idempotency-Key");
		const malformed = await problemOf(tf.submit(env, "echo", {}, { idempotencyKey: "two words" }));
		expect(malformed.errors?.[0]?.path).toBe("idempotency-key");
	});
});

describe("tf.cancel", () => {
	it("cancels a queued task (again: still cancelled), refuses a final one, and finds no unknown one", async () => {
		const delayed = await tf.submit(env, "echo", {}, { delaySeconds: 3600 });
		const cancelled = await tf.cancel(env, delayed.id);
		expect(cancelled).toMatchObject({ kind: "cancelled", task: { id: delayed.id, status: "cancelled" } });
		expect(await tf.cancel(env, delayed.id)).toMatchObject({ kind: "cancelled", task: { status: "cancelled" } });
		const quick = await tf.submit(env, "echo", { n: 1 });
		let final: TaskRecord | null = null;
		for (const deadline = Date.now() + 20_000; Date.now() < deadline && final?.status !== "succeeded";) {
			final = await tf.wait(env, quick.id, { timeoutSeconds: 5 });
		}
		expect(await tf.cancel(env, quick.id)).toEqual({ kind: "conflict", status: "succeeded" });
		expect(await tf.cancel(env, "0".repeat(64))).toEqual({ kind: "not-found" });
		expect(await tf.cancel(env, "nope")).toEqual({ kind: "not-found" });
	});
});

describe("tf.list", () => {
	it("lists by tag, status and creation time, newest first, paged, as GET /v1/tasks", async () => {
		const tag = `inworker-list-${crypto.randomUUID()}`;
		const since = new Date(Date.now() - 1000);
		const a = await tf.submit(env, "echo", {}, { tags: [tag], delaySeconds: 3600 });
		const b = await tf.submit(env, "echo", {}, { tags: [tag], delaySeconds: 3600 });
		await tf.cancel(env, a.id);
		const all = await tf.list(env, { tag, createdAfter: since });
		expect(all.tasks.map((task) => task.id)).toEqual([b.id, a.id]);
		expect(all.nextCursor).toBeNull();
		// The index follows a status change within about a second.
		const cancelled = await vi.waitUntil(
			async () => {
				const page = await tf.list(env, { tag, status: "cancelled" });
				return page.tasks.length > 0 ? page : false;
			},
			{ timeout: 10_000, interval: 50 },
		);
		expect(cancelled.tasks.map((task) => task.id)).toEqual([a.id]);
		expect((await tf.list(env, { tag, status: ["queued", "cancelled"], type: "echo" })).tasks).toHaveLength(2);
		const first = await tf.list(env, { tag, limit: 1 });
		expect(first.tasks.map((task) => task.id)).toEqual([b.id]);
		const second = await tf.list(env, { tag, limit: 1, cursor: first.nextCursor ?? undefined });
		expect(second.tasks.map((task) => task.id)).toEqual([a.id]);
		const overHttp = await (await api(`/v1/tasks?tag=${encodeURIComponent(tag)}`)).json();
		expect(overHttp).toEqual(await tf.list(env, { tag }));
	});

	it("rejects a bad query with the route's 422 problem", async () => {
		const problem = await problemOf(tf.list(env, { limit: 0, cursor: "nope" }));
		expect(problem.status).toBe(422);
		expect(problem.errors?.map((error) => error.path).sort()).toEqual(["cursor", "limit"]);
	});
});
