// One Durable Object per Idempotency-Key (named by the key): a small key record that remembers
// which task(s) a request with the key created, and the fingerprint of that request. It never
// holds a task itself: tasks live in their own objects with fresh `newUniqueId()` ids, so a key
// that is reused after its tasks expired names new tasks, never an old task's id again.
//
// The key's lifetime: it is bound to its tasks while any of their records exists (a task's record
// is kept RESULT_TTL_SECONDS after it ends). Once every one of them is gone, the key is free: the
// next request with it (any body) creates new tasks. An alarm deletes the key record after that.
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { readConfig } from "../config";
import type { InternalEnv } from "../environment";
import { findTaskStub, newTaskStub } from "./task-stub";

/**
 * A task slot of the key: the id claimed for it, and until when its object may still be created
 * (TaskObject.create refuses later calls and keeps its record at least that long, so a create that
 * arrives late can never land on a task that already ended and was deleted).
 */
type KeyTask = z.infer<typeof KeyTask>;
const KeyTask = z.object({ id: z.string(), createBy: z.number() });

type KeyRecord = z.infer<typeof KeyRecord>;
const KeyRecord = z.object({
	/** Of the request that claimed the key (route and body, compared by meaning). */
	fingerprint: z.string(),
	/** One per task of the request, in request order (1 for a single submit, up to 100 for a batch). */
	tasks: z.array(KeyTask),
});

/** How long after claiming an id its task may be created: generous for a slow or retried RPC. */
const CREATE_WINDOW_MS = 5 * 60_000;
/** Clocks of two objects may differ by this much: the key waits it out before deciding a task is gone. */
const CLOCK_SKEW_MS = 60_000;

/**
 * `claimed`: the key was free; the caller creates these tasks (202). `existing`: the key already
 * names these tasks (a repeat: 200); any that were missing got new ids, to be created now.
 * `conflict`: the key names tasks of another request.
 */
export type ClaimResult = { kind: "claimed"; tasks: KeyTask[] } | { kind: "existing"; tasks: KeyTask[] } | { kind: "conflict" };

export class IdempotencyKeyObject extends DurableObject<InternalEnv> {
	private record: KeyRecord | null;
	/** Claims run one at a time: a claim may await task objects, and must not interleave with another. */
	private turn: Promise<unknown> = Promise.resolve();

	constructor(ctx: DurableObjectState, env: InternalEnv) {
		super(ctx, env);
		const stored = ctx.storage.kv.get("key");
		this.record = stored === undefined ? null : KeyRecord.parse(stored);
	}

	/** Binds the key to `count` tasks of the request with `fingerprint`, or says what it names. */
	claim(fingerprint: string, count: number): Promise<ClaimResult> {
		return this.inTurn(() => this.claimNow(fingerprint, count));
	}

	/** Deletes the key record once every task it names is gone; else looks again later. */
	override alarm(): Promise<void> {
		return this.inTurn(async () => {
			const record = this.record;
			if (record && (await this.present(record.tasks)).includes(true)) {
				await this.ctx.storage.setAlarm(Date.now() + this.recheckMs());
				return;
			}
			await this.ctx.storage.deleteAll();
			this.record = null;
		});
	}

	/**
	 * Runs `work` after every earlier claim or clean-up has finished. They await task objects, and
	 * the runtime lets other calls in meanwhile: without turns, two claims could both find the key
	 * free, or a clean-up could delete a record claimed while it looked.
	 */
	private inTurn<T>(work: () => Promise<T>): Promise<T> {
		const run = this.turn.then(work);
		this.turn = run.catch(() => {});
		return run;
	}

	private async claimNow(fingerprint: string, count: number): Promise<ClaimResult> {
		let record = this.record;
		if (record) {
			const present = await this.present(record.tasks);
			if (!present.includes(true)) {
				record = null; // Every task of the key is gone: the key is free again.
			} else if (record.fingerprint !== fingerprint || record.tasks.length !== count) {
				return { kind: "conflict" };
			} else {
				// Tasks that are gone (never created: the first request failed midway; or deleted
				// after retention) get new ids, so a repeat completes the request without reusing one.
				if (present.every(Boolean)) return { kind: "existing", tasks: record.tasks };
				const tasks = record.tasks.map((task, i) => (present[i] ? task : this.newTask()));
				await this.save({ fingerprint, tasks });
				return { kind: "existing", tasks };
			}
		}
		const tasks = Array.from({ length: count }, () => this.newTask());
		await this.save({ fingerprint, tasks });
		return { kind: "claimed", tasks };
	}

	/** Whether each task still has its record. Tasks still inside their create window count as present. */
	private present(tasks: KeyTask[]): Promise<boolean[]> {
		const now = Date.now();
		return Promise.all(
			tasks.map(async (task) => {
				if (now <= task.createBy + CLOCK_SKEW_MS) return true;
				const stub = findTaskStub(this.env, task.id);
				return stub ? stub.exists() : false;
			}),
		);
	}

	private newTask(): KeyTask {
		return { id: newTaskStub(this.env).id, createBy: Date.now() + CREATE_WINDOW_MS };
	}

	/** Writes the record and moves the clean-up alarm (one atomic write: the put is not awaited). */
	private async save(record: KeyRecord): Promise<void> {
		this.record = record;
		this.ctx.storage.kv.put("key", record);
		await this.ctx.storage.setAlarm(Date.now() + CREATE_WINDOW_MS + CLOCK_SKEW_MS + this.recheckMs());
	}

	/** A task's record lives at least RESULT_TTL_SECONDS; checking more often would find it still there. */
	private recheckMs(): number {
		return Math.max(readConfig(this.env).RESULT_TTL_SECONDS * 1000, 3600_000);
	}
}
