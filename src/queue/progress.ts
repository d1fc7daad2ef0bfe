// `ctx.progress(value)` for handlers: validated at once, written to the task's object at most
// once per interval (the latest value wins), so a handler may call it as often as it likes.
import { Progress } from "../tasks/define-task";

const MAX_PROGRESS_BYTES = 4096;

export class ProgressReporter {
	private pending: string | undefined;
	private timer: ReturnType<typeof setTimeout> | undefined;
	private inFlight = false;
	private lastSentAt = 0;
	private closed = false;

	constructor(
		private readonly send: (progressJson: string) => Promise<unknown>,
		private readonly intervalMs = 1000,
	) {}

	report(value: unknown): void {
		const parsed = Progress.safeParse(value);
		if (!parsed.success) throw new TypeError("ctx.progress() takes a number from 0 to 100 or a JSON object.");
		const json = JSON.stringify(parsed.data);
		if (json.length > MAX_PROGRESS_BYTES) throw new TypeError(`ctx.progress() values are limited to ${MAX_PROGRESS_BYTES} bytes of JSON.`);
		if (this.closed) return;
		this.pending = json;
		this.schedule();
	}

	/** Stops reporting and returns the latest value not yet written, to record with the outcome. */
	close(): string | undefined {
		this.closed = true;
		clearTimeout(this.timer);
		return this.pending;
	}

	private schedule(): void {
		if (this.timer !== undefined || this.inFlight) return;
		const wait = Math.max(0, this.lastSentAt + this.intervalMs - Date.now());
		this.timer = setTimeout(() => this.flush(), wait);
	}

	private flush(): void {
		this.timer = undefined;
		const json = this.pending;
		if (json === undefined || this.closed) return;
		this.pending = undefined;
		this.inFlight = true;
		this.lastSentAt = Date.now();
		// Best effort: a lost progress write is superseded by the next one or by the outcome.
		this.send(json)
			.catch(() => {})
			.finally(() => {
				this.inFlight = false;
				if (this.pending !== undefined && !this.closed) this.schedule();
			});
	}
}
