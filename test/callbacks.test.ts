// Completion callbacks: one signed POST of the final record per final state, retried with backoff
// until a 2xx or 10 attempts, every attempt on the record, the task's outcome untouched, and the
// record kept past its retention until the delivery ends.
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { CALLBACK_MAX_ATTEMPTS } from "../src/outbound/callback";
import { createSessionValue, SESSION_COOKIE } from "../src/dashboard/session";
import { getTaskStub } from "../src/durable/task-stub";
import { ProblemError } from "../src/errors";
import { TaskRecord } from "../src/schemas";
import { httpTask, taskflare } from "../src/taskflare";
import { exampleTasks } from "../src/tasks/examples";
import { api, expectProblem, getTask, inTheFuture, readRecord, submit, TOKEN, waitForTerminal } from "./helpers";
import { receiver, type Received, verifySignature } from "./outbound-mock";

const DAY = 24 * 3600_000;

/** Polls the task until its callback is in `state`. */
function waitForCallback(id: string, state: NonNullable<TaskRecord["callback"]>["state"], timeout = 20_000): Promise<TaskRecord> {
	return vi.waitUntil(
		async () => {
			const record = await getTask(id);
			return record.callback?.state === state ? record : false;
		},
		{ timeout, interval: 50 },
	);
}

/** Polls the task until its callback's delivery attempts number at least `count`. */
function waitForDeliveries(id: string, count: number, timeout = 20_000): Promise<TaskRecord> {
	return vi.waitUntil(
		async () => {
			const record = await getTask(id);
			return (record.callback?.deliveries.length ?? 0) >= count ? record : false;
		},
		{ timeout, interval: 50 },
	);
}

function delivered(request: Received | undefined): TaskRecord {
	if (!request) throw new Error("no callback arrived");
	verifySignature(request);
	expect(request.method).toBe("POST");
	expect(request.headers.get("content-type")).toBe("application/json");
	return TaskRecord.parse(JSON.parse(request.body));
}

describe("completion callbacks", () => {
	it("POSTs the final record once, signed, and shows the delivery on the record", async () => {
		const hook = receiver();
		const task = await submit({ type: "echo", payload: { n: 1 }, callback: { url: hook.url } });
		expect(task.callback).toEqual({ url: hook.url, state: "waiting", deliveries: [] });
		const record = await waitForCallback(task.id, "delivered");
		expect(record.status).toBe("succeeded");
		expect(hook.received).toHaveLength(1);
		const body = delivered(hook.received[0]);
		expect(body).toMatchObject({ id: task.id, status: "succeeded", result: { n: 1 }, payload: { n: 1 } });
		// The body is the final record itself, without the callback's own delivery state.
		expect(body.callback).toBeUndefined();
		expect(hook.received[0]?.headers.get("webhook-id")).toBe(`callback_${task.id}_1`);
		expect(record.callback?.deliveries).toHaveLength(1);
		expect(record.callback?.deliveries[0]).toMatchObject({ webhookId: `callback_${task.id}_1`, attempt: 1, statusCode: 200 });
		expect(record.callback?.deliveries[0]?.error).toBeUndefined();
	});

	it("is sent for failed and cancelled tasks too", async () => {
		const failedHook = receiver();
		const failed = await submit({ type: "fail", payload: { message: "card declined" }, callback: { url: failedHook.url } });
		await waitForCallback(failed.id, "delivered");
		expect(delivered(failedHook.received[0])).toMatchObject({ status: "failed", error: { message: "card declined" } });

		const cancelledHook = receiver();
		const delayed = await submit({ type: "echo", delaySeconds: 3600, callback: { url: cancelledHook.url } });
		expect((await api(`/v1/tasks/${delayed.id}/cancel`, { method: "POST" })).status).toBe(200);
		await waitForCallback(delayed.id, "delivered");
		expect(delivered(cancelledHook.received[0])).toMatchObject({ status: "cancelled" });
	});

	it("retries after the receiver answers 500, with the same webhook-id, without touching the task's outcome", async () => {
		const hook = receiver((_, i) => new Response(null, { status: i === 0 ? 500 : 204 }));
		const task = await submit({ type: "echo", callback: { url: hook.url } });
		const pending = await waitForDeliveries(task.id, 1);
		expect(pending.status).toBe("succeeded");
		expect(pending.callback?.deliveries).toMatchObject([{ attempt: 1, statusCode: 500, error: "The receiver answered 500." }]);
		// The second attempt is due 5 s after the first.
		const first = Date.parse(pending.callback?.deliveries[0]?.at ?? "");
		expect(Date.parse(pending.callback?.nextAttemptAt ?? "") - first).toBeGreaterThanOrEqual(5000);

		const record = await waitForCallback(task.id, "delivered", 25_000);
		expect(record.callback?.deliveries.map((d) => [d.attempt, d.statusCode])).toEqual([
			[1, 500],
			[2, 204],
		]);
		expect(hook.received.map((r) => r.headers.get("webhook-id"))).toEqual([`callback_${task.id}_1`, `callback_${task.id}_1`]);
		expect(hook.received.map((r) => delivered(r).status)).toEqual(["succeeded", "succeeded"]);
		expect(record).toMatchObject({ status: "succeeded", attempts: 1 });
	});

	it("records network errors and timeouts as failed attempts", async () => {
		const hook = receiver(() => Promise.reject(new TypeError("Network connection lost.")));
		const task = await submit({ type: "echo", callback: { url: hook.url } });
		const pending = await waitForDeliveries(task.id, 1);
		expect(pending.callback?.deliveries[0]).toMatchObject({
			attempt: 1,
			error: "NetworkError: The request failed: Network connection lost.",
		});
		expect(pending.callback?.deliveries[0]?.statusCode).toBeUndefined();
	});

	it("gives up after 10 attempts, spread over about 16 hours", async () => {
		const hook = receiver(() => new Response("down", { status: 503 }));
		const task = await submit({ type: "echo", callback: { url: hook.url } });
		await waitForDeliveries(task.id, 1);
		const stub = getTaskStub(env, task.id);
		// Each further attempt is due at most 8 h after the last: step 10 h at a time, running the
		// object's alarm as the runtime would.
		for (let attempt = 2; attempt <= CALLBACK_MAX_ATTEMPTS; attempt++) {
			const record = await inTheFuture(attempt * 10 * 3600_000, async () => {
				await runDurableObjectAlarm(stub);
				return readRecord(stub);
			});
			expect(record?.callback?.deliveries, `after attempt ${attempt}`).toHaveLength(attempt);
		}
		const gaveUp = await readRecord(stub);
		expect(gaveUp?.callback).toMatchObject({ state: "failed" });
		expect(gaveUp?.callback?.nextAttemptAt).toBeUndefined();
		expect(gaveUp?.status).toBe("succeeded");
		expect(hook.received).toHaveLength(CALLBACK_MAX_ATTEMPTS);
		expect(new Set(hook.received.map((r) => r.headers.get("webhook-id")))).toEqual(new Set([`callback_${task.id}_1`]));
		// Retention (7 days) applies once the delivery has ended.
		await inTheFuture(30 * DAY, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toBeNull();
	});

	it("keeps the record past its retention while the callback is still being delivered", async () => {
		let up = false;
		const hook = receiver(() => new Response(null, { status: up ? 200 : 503 }));
		const task = await submit({ type: "echo", callback: { url: hook.url } });
		await waitForDeliveries(task.id, 1);
		const stub = getTaskStub(env, task.id);
		// 8 days later (retention is 7): the alarm makes the next attempt and keeps the record.
		const kept = await inTheFuture(8 * DAY, async () => {
			await runDurableObjectAlarm(stub);
			return readRecord(stub);
		});
		expect(kept?.callback).toMatchObject({ state: "pending", deliveries: [{ statusCode: 503 }, { statusCode: 503 }] });
		// Delivered at last: retention, long over, deletes the record right after.
		up = true;
		await inTheFuture(9 * DAY, () => runDurableObjectAlarm(stub));
		// (Signed at their own, future, times: only the bodies are checked here.)
		expect(hook.received.map((r) => TaskRecord.parse(JSON.parse(r.body)).id)).toEqual([task.id, task.id, task.id]);
		expect(await readRecord(stub)).toBeNull();
	});

	it("sends a new delivery for the final state after a retry", async () => {
		const hook = receiver();
		const task = await submit({ type: "flaky", payload: { failTimes: 1 }, maxAttempts: 1, callback: { url: hook.url } });
		await waitForCallback(task.id, "delivered");
		expect((await api(`/v1/tasks/${task.id}/retry`, { method: "POST" })).status).toBe(202);
		await vi.waitUntil(async () => (await getTask(task.id)).callback?.deliveries.length === 2, { timeout: 20_000, interval: 50 });
		const record = await waitForTerminal(task.id);
		expect(record.callback?.state).toBe("delivered");
		expect(hook.received.map((r) => [r.headers.get("webhook-id"), delivered(r).status])).toEqual([
			[`callback_${task.id}_1`, "failed"],
			[`callback_${task.id}_2`, "succeeded"],
		]);
	});

	it("refuses a callback URL the allow-list does not allow, on every submit route", async () => {
		const single = await api("/v1/tasks", { json: { type: "echo", callback: { url: "http://127.0.0.1:8080/hook" } } });
		const problem = await expectProblem(single, 422);
		expect(problem.errors?.map((e) => e.path)).toEqual(["callback.url"]);
		expect(problem.errors?.[0]?.message).toContain('"127.0.0.1" is not allowed by HTTP_ALLOWED_HOSTS');
		const batch = await api("/v1/tasks/batch", { json: { tasks: [{ type: "echo", callback: { url: "https://evil.com/" } }] } });
		expect((await expectProblem(batch, 422)).errors?.map((e) => e.path)).toEqual(["tasks.0.callback.url"]);
		const schedule = await api("/v1/schedules", { json: { every: 60, task: { type: "echo", callback: { url: "http://[::1]/" } } } });
		expect((await expectProblem(schedule, 422)).errors?.map((e) => e.path)).toEqual(["task.callback.url"]);
	});

	it("is part of a schedule's task template and of every task it creates", async () => {
		const hook = receiver();
		const id = `cb-${crypto.randomUUID().slice(0, 8)}`;
		const created = await api(`/v1/schedules/${id}`, {
			method: "PUT",
			json: { every: 3600, paused: true, task: { type: "echo", callback: { url: hook.url } } },
		});
		expect(created.status).toBe(201);
		expect(await created.json()).toMatchObject({ task: { type: "echo", callback: { url: hook.url } } });
		const fired = await api(`/v1/schedules/${id}/trigger`, { method: "POST" });
		const task = TaskRecord.parse(await fired.json());
		expect(task.callback?.url).toBe(hook.url);
		await waitForCallback(task.id, "delivered");
		expect(delivered(hook.received[0])).toMatchObject({ id: task.id, scheduleId: id });
	});

	it("makes a callback part of an Idempotency-Key's request", async () => {
		const hook = receiver();
		const key = crypto.randomUUID();
		const first = await api("/v1/tasks", { json: { type: "echo", delaySeconds: 3600 }, headers: { "Idempotency-Key": key } });
		expect(first.status).toBe(202);
		const other = await api("/v1/tasks", {
			json: { type: "echo", delaySeconds: 3600, callback: { url: hook.url } },
			headers: { "Idempotency-Key": key },
		});
		expect((await expectProblem(other, 422)).errors?.map((e) => e.path)).toEqual(["Idempotency-Key"]);
	});

	it("shows every delivery attempt on the dashboard's task page", async () => {
		const hook = receiver((_, i) => new Response(null, { status: i === 0 ? 502 : 200 }));
		const task = await submit({ type: "echo", callback: { url: hook.url } });
		await waitForCallback(task.id, "delivered", 25_000);
		const cookie = await createSessionValue(TOKEN);
		const page = await exports.default.fetch(
			new Request(`https://taskflare.test/dashboard/tasks/${task.id}`, { headers: { Cookie: `${SESSION_COOKIE}=${cookie}` } }),
		);
		expect(page.status).toBe(200);
		const html = await page.text();
		expect(html).toContain("Completion callback");
		expect(html).toContain('data-callback-state="delivered"');
		const rows = html.slice(html.indexOf('<table id="deliveries">')).split("<tr>").slice(2);
		expect(rows).toHaveLength(2);
		expect(rows[0]).toContain("<td>502</td>");
		expect(rows[0]).toContain("The receiver answered 502.");
		expect(rows[1]).toContain("<td>200</td>");
	});

	it("work through the library's in-Worker API: tf.submit with httpTask and a callback", async () => {
		const tf = taskflare({ tasks: [...exampleTasks, httpTask] });
		const target = receiver(() => new Response('{"ok":1}', { headers: { "content-type": "application/json" } }));
		const hook = receiver();
		const task = await tf.submit(env, "http", { url: target.url, method: "PUT", body: "x" }, { callback: { url: hook.url } });
		const record = await waitForCallback(task.id, "delivered");
		expect(record).toMatchObject({ status: "succeeded", result: { status: 200, body: { ok: 1 } } });
		expect(delivered(hook.received[0])).toMatchObject({ id: task.id, status: "succeeded" });
		const refused: unknown = await tf.submit(env, "http", { url: "http://0x7f.1/" }).catch((error: unknown) => error);
		if (!(refused instanceof ProblemError)) throw new Error("expected a ProblemError");
		expect(refused.errors?.map((e) => e.path)).toEqual(["payload.url"]);
	});
});
