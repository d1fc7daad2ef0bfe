// How a task object keeps its row in the task index current, without ever letting the index slow
// or fail the task: writes are sent after the task's own state is stored, their errors are caught,
// and a failed write is reported to the object, which retries it from its alarm.
//
// Changes are coalesced: after a change the summary is sent within DEBOUNCE_MS, and a change in
// the meantime rides along in the same write. A task that runs for a few milliseconds is written
// twice (queued at submit, then its final status), not three times.
import type { InternalEnv } from "../environment";
import type { IndexEntry } from "./task-index";
import { indexShardStub } from "./task-index-stub";

/** How long a change may wait to be sent with the next one. */
const INDEX_DEBOUNCE_MS = 500;

export type IndexTarget = { shard: number; entry: IndexEntry };

export class TaskIndexWriter {
	private dirty = false;
	private writing: Promise<boolean> | null = null;
	private timer: ReturnType<typeof setTimeout> | null = null;

	/**
	 * @param target the task's current summary and shard (null: no task, nothing to write).
	 * @param missed called after a write failed; the object arranges a retry (its alarm).
	 */
	constructor(
		private readonly env: InternalEnv,
		private readonly target: () => IndexTarget | null,
		private readonly missed: () => Promise<void>,
	) {}

	/** Sends the current summary now. Resolves true once the index holds it, false if the write failed. */
	now(): Promise<boolean> {
		if (this.timer !== null) clearTimeout(this.timer);
		this.timer = null;
		this.dirty = true;
		this.writing ??= this.drain();
		return this.writing;
	}

	/** Sends the current summary within INDEX_DEBOUNCE_MS (with any change made meanwhile). */
	soon(): void {
		this.dirty = true;
		if (this.timer !== null || this.writing !== null) return;
		this.timer = setTimeout(() => {
			this.timer = null;
			void this.now();
		}, INDEX_DEBOUNCE_MS);
	}

	/** Removes the task's row now (the task is being discarded); never throws. */
	async remove(): Promise<void> {
		if (this.timer !== null) clearTimeout(this.timer);
		this.timer = null;
		this.dirty = false;
		await this.writing;
		const target = this.target();
		if (!target) return;
		await indexShardStub(this.env, target.shard)
			.remove(target.entry.createdAt, target.entry.id)
			.catch(() => undefined);
	}

	private async drain(): Promise<boolean> {
		let ok = true;
		try {
			// A change made while a write is in flight is sent by the next turn of the loop.
			while (this.dirty) {
				this.dirty = false;
				const target = this.target();
				if (!target) break;
				ok = await indexShardStub(this.env, target.shard)
					.put(target.entry)
					.then(
						() => true,
						() => false,
					);
			}
		} finally {
			this.writing = null;
		}
		if (!ok) {
			console.error("taskflare: a task index write failed; the task's alarm will repeat it");
			// Storage trouble in the object itself: its next alarm or change writes again anyway.
			await this.missed().catch(() => undefined);
		}
		return ok;
	}
}
