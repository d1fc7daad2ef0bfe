// Heartbeat leases: a running attempt holds a 30 s lease that its consumer renews while the handler
// runs. A dead consumer is noticed when the lease lapses, whatever the type's timeout; a lapsed or
// stale attempt's renewal, progress and outcome are refused. Time is moved with fake Date only.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { LEASE_ALARM_SLACK_SECONDS, LEASE_SECONDS } from "../src/config";
import type { TaskObject } from "../src/durable/task-object";
import { LeaseKeeper, LeaseLostError } from "../src/queue/lease-keeper";
import { createTask, inTheFuture, readRecord, waitForTerminal } from "./helpers";

const SECOND = 1000;
/** A long-timeout type: sleep's timeout is 660 s, so its old lease was 690 s. */
const LONG = { timeoutSeconds: 660 };

const alarmOf = (stub: DurableObjectStub<TaskObject>) => runInDurableObject(stub, (_: TaskObject, state) => state.storage.getAlarm());

async function started(stub: DurableObjectStub<TaskObject>): Promise<number> {
	const start = await stub.start();
	if (start.kind !== "run") throw new Error(`expected a run, got ${JSON.stringify(start)}`);
	return start.attempt;
}

describe("heartbeat lease", () => {
	it("is renewed while the handler runs, then lapses and is retried once the renewals stop", async () => {
		const { id, stub } = await createTask("echo", { renewed: true }, LONG);
		const attempt = await started(stub);
		// Renewed after 20 s, then again 20 s later: alive at 50 s, past the first lease's end.
		expect(await inTheFuture(20 * SECOND, () => stub.renew(attempt))).toBe(true);
		expect(await inTheFuture(40 * SECOND, () => stub.renew(attempt))).toBe(true);
		await inTheFuture(50 * SECOND, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toMatchObject({ status: "running", attempts: 1 });
		// The consumer died after its last renewal (lease until 70 s): the alarm retries the task
		// then, not after the type's 660 s timeout.
		await inTheFuture(71 * SECOND, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toMatchObject({ status: "retrying", attempts: 1, error: { name: "LeaseExpiredError" } });
		expect(await waitForTerminal(id)).toMatchObject({ status: "succeeded", attempts: 2, result: { renewed: true } });
	});

	it("lapses after LEASE_SECONDS without renewals, whatever the timeout", async () => {
		const { stub } = await createTask("echo", {}, LONG);
		await started(stub);
		await inTheFuture((LEASE_SECONDS - 1) * SECOND, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toMatchObject({ status: "running" });
		await inTheFuture((LEASE_SECONDS + 1) * SECOND, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toMatchObject({ status: "retrying", error: { name: "LeaseExpiredError" } });
	});

	it("refuses a lapsed attempt's renewal, progress and outcome, and a stale attempt's", async () => {
		const { stub } = await createTask("echo", {}, LONG);
		const first = await started(stub);
		// Lapsed, before the alarm noticed: the late renewal is refused and the task retried.
		expect(await inTheFuture((LEASE_SECONDS + 1) * SECOND, () => stub.renew(first))).toBe(false);
		expect(await readRecord(stub)).toMatchObject({ status: "retrying", attempts: 1 });
		const second = await started(stub);
		expect(second).toBe(2);
		expect(await stub.renew(first)).toBe(false);
		expect(await stub.progress(first, "50")).toBe(false);
		expect(await stub.finish(first, { ok: true, resultJson: '"late"' })).toEqual({ accepted: false, status: "running" });
		// The second attempt's lease lapses too: its late outcome is refused like a stale one's.
		const late = await inTheFuture((LEASE_SECONDS + 1) * SECOND, () => stub.finish(second, { ok: true, resultJson: '"late"' }));
		expect(late).toEqual({ accepted: false, status: "retrying" });
		expect(await readRecord(stub)).toMatchObject({ status: "retrying", attempts: 2, error: { name: "LeaseExpiredError" } });
	});

	it("is renewed by progress writes, and never past the attempt's timeout", async () => {
		const { stub } = await createTask("echo", {}, { timeoutSeconds: 20 });
		const attempt = await started(stub);
		// A progress write 15 s in renews the lease (until 45 s) in the same row write.
		expect(await inTheFuture(15 * SECOND, () => stub.progress(attempt, "50"))).toBe(true);
		expect(await inTheFuture(40 * SECOND, () => stub.renew(attempt))).toBe(true);
		// No renewal reaches past timeout (20 s) + 30 s grace: lapsed at 51 s.
		expect(await inTheFuture(51 * SECOND, () => stub.renew(attempt))).toBe(false);
		expect(await readRecord(stub)).toMatchObject({ status: "retrying", error: { name: "LeaseExpiredError" } });
	});

	it("is covered by the alarm armed at create: starting moves no alarm, and a lapse is noticed soon", async () => {
		const { stub } = await createTask("echo", {}, LONG);
		const armed = await alarmOf(stub);
		expect(armed).not.toBeNull();
		const startedAt = Date.now();
		await started(stub);
		// No alarm write at start (a task that ends within its first lease costs nothing extra) ...
		expect(await alarmOf(stub)).toBe(armed);
		// ... yet the alarm goes off at most LEASE_ALARM_SLACK_SECONDS after the lease's end.
		expect(armed ?? 0).toBeLessThanOrEqual(startedAt + (LEASE_SECONDS + LEASE_ALARM_SLACK_SECONDS) * SECOND);
	});

	it("a restarted (evicted) object recovers its running task when the lease lapses", async () => {
		const { id, stub } = await createTask("echo", { recovered: true }, LONG);
		await started(stub);
		// The consumer and the object's instance are gone (a restart); only storage remains.
		await evictDurableObject(stub);
		expect(await alarmOf(stub)).toBeLessThanOrEqual(Date.now() + (LEASE_SECONDS + LEASE_ALARM_SLACK_SECONDS) * SECOND);
		await inTheFuture((LEASE_SECONDS + LEASE_ALARM_SLACK_SECONDS) * SECOND, () => runDurableObjectAlarm(stub));
		expect(await waitForTerminal(id)).toMatchObject({ status: "succeeded", attempts: 2, result: { recovered: true } });
	});
});

describe("recovery of a waiting task after a restart", () => {
	const firstLeaseEnd = (LEASE_SECONDS + LEASE_ALARM_SLACK_SECONDS) * SECOND;

	it("re-sends a queued task whose message died with the previous process, at the first-lease alarm", async () => {
		// Nothing was sent (createTask records only): like a message lost with a restarted process.
		const { id, stub } = await createTask("echo", { afterRestart: true });
		// The object now lives in an isolate that started after the task was sent.
		await runInDurableObject(stub, (instance: TaskObject) => Reflect.set(instance, "isolateStartedAt", Date.now() + 1));
		await inTheFuture(firstLeaseEnd, () => runDurableObjectAlarm(stub));
		expect(await waitForTerminal(id)).toMatchObject({ status: "succeeded", attempts: 1, result: { afterRestart: true } });
	});

	it("without a restart, waits for the re-drive time (REDRIVE_AFTER_SECONDS, 120 s)", async () => {
		const { stub } = await createTask("echo");
		await inTheFuture(firstLeaseEnd, () => runDurableObjectAlarm(stub));
		expect(await readRecord(stub)).toMatchObject({ status: "queued", attempts: 0 });
		expect(await alarmOf(stub)).toBeGreaterThan(Date.now() + 60 * SECOND);
	});
});

describe("LeaseKeeper", () => {
	it("renews on its interval until stopped", async () => {
		let renewals = 0;
		const keeper = new LeaseKeeper(async () => {
			renewals++;
			return true;
		}, 20);
		await vi.waitUntil(() => renewals >= 3, { timeout: 5_000 });
		keeper.stop();
		const stoppedAt = renewals;
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(renewals).toBe(stoppedAt);
		expect(keeper.signal.aborted).toBe(false);
	});

	it("aborts the attempt's signal when a renewal is refused, and keeps going after a failed call", async () => {
		const answers = [() => Promise.reject(new Error("unreachable")), () => Promise.resolve(false)];
		const keeper = new LeaseKeeper(() => (answers.shift() ?? (() => Promise.resolve(false)))(), 20);
		await vi.waitUntil(() => keeper.signal.aborted, { timeout: 5_000 });
		expect(keeper.signal.reason).toBeInstanceOf(LeaseLostError);
		keeper.stop();
	});
});
