// The Server-Sent Events streams of one task, fed by its Durable Object (task-object.ts).
// Memory stays bounded however many readers there are and however slow they read:
// - each change is encoded once, and the same bytes are handed to every stream;
// - a stream takes data only when its reader asks for it (pull, no internal queue), so a slow
//   reader holds at most one frame: the latest state, which replaces any frame it has not started
//   yet. It sees fewer intermediate states, never a backlog of every change;
// - frames go out in views of at most CHUNK_BYTES, so a reader that stops mid-way through a large
//   frame (a 1 MiB result) keeps about one piece in flight per stream, not a copy of the frame;
// - at most `maxStreams` streams are open at once.

const encoder = new TextEncoder();
/** A comment line now and then keeps idle connections from being cut by proxies. */
const KEEP_ALIVE = encoder.encode(": keep-alive\n\n");
/** Largest piece of a frame handed to a stream at once (a view into the shared frame, not a copy). */
const CHUNK_BYTES = 64 * 1024;

export type EventHubOptions = {
	/** Streams open at once; `open` answers null beyond this. */
	maxStreams: number;
	/** How often an idle stream gets a keep-alive comment. */
	keepAliveMs: number;
};

type Subscriber = {
	/** The rest of the frame being delivered (a frame is never cut short: SSE framing). */
	sending: Uint8Array | null;
	/** The frame to deliver after it: the latest state (or a keep-alive). */
	next: Uint8Array | null;
	/** End the stream once `next` is delivered (the task is final, or its record is gone). */
	closing: boolean;
	/** Resolves the read that is waiting for a frame. */
	wake: (() => void) | null;
};

export class EventHub {
	private readonly subscribers = new Set<Subscriber>();
	/** The last state published or opened with, encoded; shared by every stream. */
	private latest: { json: string; frame: Uint8Array } | null = null;
	private keepAlive: ReturnType<typeof setInterval> | undefined;

	constructor(private readonly options: EventHubOptions) {}

	/** Streams open now. */
	get size(): number {
		return this.subscribers.size;
	}

	/**
	 * A new stream that starts with `json` (the current state) and then carries each published
	 * state; with `final`, it ends after the first event. Null when `maxStreams` are open.
	 */
	open(json: string, final: boolean): ReadableStream<Uint8Array> | null {
		if (this.subscribers.size >= this.options.maxStreams) return null;
		const subscriber: Subscriber = { sending: null, next: this.frame(json), closing: final, wake: null };
		this.subscribers.add(subscriber);
		this.keepAlive ??= setInterval(() => this.sendKeepAlive(), this.options.keepAliveMs);
		return new ReadableStream<Uint8Array>(
			{
				pull: async (controller) => {
					while (subscriber.sending === null && subscriber.next === null && !subscriber.closing) {
						await new Promise<void>((resolve) => {
							subscriber.wake = resolve;
						});
					}
					subscriber.wake = null;
					if (subscriber.sending === null) {
						subscriber.sending = subscriber.next;
						subscriber.next = null;
					}
					const rest = subscriber.sending;
					if (rest !== null && rest.byteLength > CHUNK_BYTES) {
						controller.enqueue(rest.subarray(0, CHUNK_BYTES));
						subscriber.sending = rest.subarray(CHUNK_BYTES);
					} else if (rest !== null) {
						controller.enqueue(rest);
						subscriber.sending = null;
					}
					if (subscriber.closing && subscriber.sending === null && subscriber.next === null) {
						this.remove(subscriber);
						controller.close();
					}
				},
				// The reader went away.
				cancel: () => this.remove(subscriber),
			},
			// No queue inside the stream: pull runs only while the reader waits for data.
			{ highWaterMark: 0 },
		);
	}

	/** A new state for every stream (replacing what a slow reader has not taken); `final` ends them after it. */
	publish(json: string, final: boolean): void {
		if (this.subscribers.size === 0) return;
		// Nothing changed for the readers (each already has or took this state).
		if (this.latest?.json === json && !final) return;
		const frame = this.frame(json);
		for (const subscriber of this.subscribers) {
			if (subscriber.closing) continue;
			subscriber.next = frame;
			subscriber.closing = final;
			subscriber.wake?.();
		}
	}

	/** Ends every stream after the frame it has not taken yet (the task's record is gone). */
	closeAll(): void {
		for (const subscriber of this.subscribers) {
			subscriber.closing = true;
			subscriber.wake?.();
		}
	}

	/** The SSE frame for `json`, encoded once per distinct state. */
	private frame(json: string): Uint8Array {
		if (this.latest?.json !== json) this.latest = { json, frame: encoder.encode(`event: task\ndata: ${json}\n\n`) };
		return this.latest.frame;
	}

	private sendKeepAlive(): void {
		for (const subscriber of this.subscribers) {
			if (subscriber.sending !== null || subscriber.next !== null || subscriber.closing) continue;
			subscriber.next = KEEP_ALIVE;
			subscriber.wake?.();
		}
	}

	private remove(subscriber: Subscriber): void {
		this.subscribers.delete(subscriber);
		subscriber.sending = null;
		subscriber.next = null;
		if (this.subscribers.size > 0) return;
		// Nothing is listening: release the last frame (up to a 1 MiB result) and the timer.
		clearInterval(this.keepAlive);
		this.keepAlive = undefined;
		this.latest = null;
	}
}
