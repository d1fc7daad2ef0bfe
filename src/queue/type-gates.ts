// A task type's `batchConcurrency`: how many of its attempts run at once in this consumer isolate,
// and, for a message that finds every slot taken, when it should come back. The message is then
// handed back to its task's object (see `TaskObject.defer`) instead of waiting in the batch: a
// batch that held it would hold up everything behind it (locally Miniflare delivers one batch at a
// time), and its attempt has not started, so its timeout does not tick.

/** Longest hand-back: the message comes back (and may be handed back again) at least this often. */
const MAX_DEFER_SECONDS = 300;
/** Assumed length of an attempt of a type until one has been measured here. */
const FIRST_GUESS_MS = 1000;

export class TypeGate {
	private running = 0;
	private averageMs: number | null = null;
	/** When the messages handed back so far should all have had their turn. */
	private lineEndsAt = 0;

	constructor(readonly limit: number) {}

	/** Takes a slot if one is free. Every `true` must be followed by `leave()`. */
	tryEnter(): boolean {
		if (this.running >= this.limit) return false;
		this.running++;
		return true;
	}

	/** Frees the slot; `durationMs` (null: no attempt ran) refines the estimate of an attempt's length. */
	leave(durationMs: number | null): void {
		this.running--;
		if (durationMs !== null) this.averageMs = this.averageMs === null ? durationMs : 0.7 * this.averageMs + 0.3 * durationMs;
	}

	/**
	 * Seconds after which a message that found no free slot should come back: behind the ones handed
	 * back before it, one average attempt per slot each (whole seconds, as queue delays are).
	 */
	deferSeconds(now = Date.now()): number {
		this.lineEndsAt = Math.max(this.lineEndsAt, now) + (this.averageMs ?? FIRST_GUESS_MS) / this.limit;
		return Math.min(MAX_DEFER_SECONDS, Math.max(1, Math.ceil((this.lineEndsAt - now) / 1000)));
	}
}

/** One gate per task type with a finite `batchConcurrency`, for the life of the isolate. */
export class TypeGates {
	private readonly gates = new Map<string, TypeGate>();

	/** The type's gate, or null when its attempts are not limited. */
	for(type: string, limit: number): TypeGate | null {
		if (!Number.isFinite(limit)) return null;
		let gate = this.gates.get(type);
		if (!gate) {
			gate = new TypeGate(limit);
			this.gates.set(type, gate);
		}
		return gate;
	}
}
