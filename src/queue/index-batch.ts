// The task index rows of one consumer batch, written per shard in one call each. Starting and
// finishing an attempt hand the task's summary back (`indexedByCaller`) instead of each task
// object writing its own row: a batch of 100 quick tasks costs ≤ INDEX_SHARDS index calls, not 100.
//
// A message is acked only after the rows of its changes were written (or reported missed), so:
// - a failed shard write is reported to each of its task objects (`indexWriteFailed`), whose alarm
//   repeats it within seconds, as for any failed index write;
// - a consumer that dies between `finish` and the shard write acks nothing: Queues redelivers the
//   message, and `start` answers the redelivery with the task's current summary (a skip), which
//   the next batch writes. After the last delivery attempt the dead-letter consumer asks the object,
//   which writes its row itself.
// Rows are written once every message of the batch is done, and at the latest INDEX_FLUSH_MS after
// a change was handed in (a long task's `running` does not wait for the task to end).
import type { IndexEntry } from "../durable/task-index";
import { indexShardStub } from "../durable/task-index-stub";
import type { IndexTarget } from "../durable/task-index-writer";
import type { InternalEnv } from "../environment";

/** The longest a handed-in change waits for company before it is written. */
const INDEX_FLUSH_MS = 500;

type Pending = { shard: number; entry: IndexEntry; missed: () => Promise<void> };

export class IndexBatch {
	private pending = new Map<string, Pending>();
	private timer: ReturnType<typeof setTimeout> | null = null;
	/** The write that will take the pending rows (set while any row is pending). */
	private next: { done: Promise<void>; start: (rows: Pending[]) => void } | null = null;
	/** Writes under way (a message is acked only once those holding its rows are over). */
	private readonly writing = new Set<Promise<void>>();

	/** @param working messages of the batch still being worked on. */
	constructor(
		private readonly env: InternalEnv,
		private working: number,
	) {}

	/** Takes a task's summary to write; a newer summary of the same task replaces an older one. */
	add(target: IndexTarget, missed: () => Promise<void>): void {
		const known = this.pending.get(target.entry.id);
		if (known && known.entry.updatedAt > target.entry.updatedAt) return;
		this.pending.set(target.entry.id, { ...target, missed });
		if (!this.next) {
			let start: (rows: Pending[]) => void = () => {};
			const rows = new Promise<Pending[]>((resolve) => {
				start = resolve;
			});
			this.next = { done: rows.then((taken) => this.writeRows(taken)), start };
		}
		this.timer ??= setTimeout(() => this.write(), INDEX_FLUSH_MS);
	}

	/**
	 * A message is done handing in summaries. Resolves once every summary handed in so far was
	 * written or reported missed (never rejects); when no message is still working, writes now.
	 */
	async done(): Promise<void> {
		this.working -= 1;
		const waitFor = [...this.writing];
		if (this.next) waitFor.push(this.next.done);
		if (this.working <= 0) this.write();
		await Promise.all(waitFor);
	}

	/** Starts writing the pending rows (summaries handed in later go into the next write). */
	private write(): void {
		if (this.timer !== null) clearTimeout(this.timer);
		this.timer = null;
		const next = this.next;
		if (!next) return;
		this.next = null;
		const rows = [...this.pending.values()];
		this.pending.clear();
		this.writing.add(next.done);
		void next.done.finally(() => this.writing.delete(next.done));
		next.start(rows);
	}

	private async writeRows(rows: Pending[]): Promise<void> {
		const byShard = new Map<number, Pending[]>();
		for (const row of rows) byShard.set(row.shard, [...(byShard.get(row.shard) ?? []), row]);
		await Promise.all(
			[...byShard].map(async ([shard, share]) => {
				try {
					await indexShardStub(this.env, shard).putMany(share.map((row) => row.entry));
				} catch {
					console.error("taskflare: a batched task index write failed; the tasks' alarms will repeat it");
					// Never throws: an object that cannot even record this writes its row at its next change.
					await Promise.all(share.map((row) => row.missed().catch(() => undefined)));
				}
			}),
		);
	}
}
