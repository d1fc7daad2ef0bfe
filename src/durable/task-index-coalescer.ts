// The first task index rows of tasks submitted at the same time in one isolate, written in as few
// calls as possible (group commit). Read-your-writes makes every submit wait for its rows, and one
// index call per submit was most of what the index cost the submit path. Here:
// - while MAX_CALLS_IN_FLIGHT calls from this isolate are in flight, the rows of every submit that
//   arrives go into one next call, which leaves as soon as one of them is answered: an idle isolate
//   sends at once (no timer, no added latency), a busy one sends a call per round trip, however
//   many submits it serves;
// - new tasks are steered to the shard of the call being filled (their ids are drawn until they hash
//   there: see pickShard), so that call holds all of them, not one share per shard; successive calls
//   go round the shards, which keeps the shards evenly filled.
//
// Each call is made by the submit that opened it (the leader), in its own request, which stays open
// until the call is answered since the leader waits for its own rows too. The other submits
// (followers) wait for the leader's answer; should it never come (the leader's request was cancelled
// with the call in flight), a follower stops waiting after FOLLOWER_PATIENCE_MS and counts its rows
// as not written, so its tasks' alarms write them: a late or doubled write is harmless (a shard
// orders a task's writes by its updatedAt). A call in flight for LANE_WAIT_MS holds no later call back.
import type { IndexEntry } from "./task-index";

/** Rows per call at most; a submit whose rows do not fit in the call being filled opens another. */
export const MAX_ROWS_PER_CALL = 500;
/**
 * Calls in flight from one isolate at most; a new call waits for one of them to be answered. Two
 * rather than one: a slow call does not hold every submit back (measured locally, one in flight
 * wrote about 0.3 calls per task where two wrote 0.4, at the same latency).
 */
const MAX_CALLS_IN_FLIGHT = 2;
/** The longest a new call waits for the calls in flight before it leaves alongside them. */
const LANE_WAIT_MS = 2_000;
/** The longest a follower waits for its leader's answer before its rows count as not written. */
const FOLLOWER_PATIENCE_MS = 10_000;

/** Sends one call's rows to a shard; rejects when the shard did not take them. */
export type SendRows = (entries: IndexEntry[]) => Promise<unknown>;

type Call = { shard: number; entries: IndexEntry[]; written: Promise<boolean>; openedAt: number };

/** Calls in flight at most, how long a call waits for them, and a follower for its leader (tests change them). */
export type LaneTimings = { maxInFlight: number; laneWaitMs: number; followerPatienceMs: number };

/** This isolate's calls to one index namespace: those in flight, and those still taking rows. */
export class IndexLane {
	private readonly inFlight = new Set<Promise<boolean>>();
	/** Calls taking rows, by shard (steered submits fill one; others open one per shard). */
	private readonly open = new Map<number, Call>();
	/** The shard of the last call opened by pickShard; random at first, so isolates start apart. */
	private lastShard = Math.floor(Math.random() * 1024);

	constructor(
		private readonly timings: LaneTimings = {
			maxInFlight: MAX_CALLS_IN_FLIGHT,
			laneWaitMs: LANE_WAIT_MS,
			followerPatienceMs: FOLLOWER_PATIENCE_MS,
		},
	) {}

	/** The shard whose next call `count` new rows should join: the call being filled, else the next shard round. */
	pickShard(shards: number, count: number): number {
		for (const call of this.openCalls()) {
			if (call.shard < shards && call.entries.length + count <= MAX_ROWS_PER_CALL) return call.shard;
		}
		this.lastShard = (this.lastShard + 1) % shards;
		return this.lastShard;
	}

	/**
	 * The calls still taking rows. One open longer than its leader can have waited was abandoned
	 * (its request was cancelled before it sent the call): it takes no more rows.
	 */
	private openCalls(): Call[] {
		const now = Date.now();
		for (const [shard, call] of this.open) if (now - call.openedAt > this.timings.laneWaitMs + 1_000) this.open.delete(shard);
		return [...this.open.values()];
	}

	/** Resolves true once the shard holds `entries` (never rejects: the index must not fail a submit). */
	async write(shard: number, entries: IndexEntry[], send: SendRows): Promise<boolean> {
		const open = this.openCalls().find((call) => call.shard === shard);
		if (open && open.entries.length + entries.length <= MAX_ROWS_PER_CALL) {
			open.entries.push(...entries);
			return withPatience(open.written, this.timings.followerPatienceMs);
		}
		let settle: (written: boolean) => void = () => {};
		const written = new Promise<boolean>((resolve) => {
			settle = resolve;
		});
		const call: Call = { shard, entries: [...entries], written, openedAt: Date.now() };
		this.open.set(shard, call);
		// At least one turn, so rows of the same turn (a loop of submits) join; with maxInFlight calls
		// in flight, every row that arrives until one of them is answered.
		const busy = this.inFlight.size >= this.timings.maxInFlight ? [...this.inFlight] : [];
		const answered = await (busy.length === 0
			? Promise.resolve(true)
			: withPatience(
					Promise.race(busy).then(() => true),
					this.timings.laneWaitMs,
				));
		// Calls unanswered by now may never be (their request was cancelled): no later call waits for them.
		if (!answered) for (const stale of busy) this.inFlight.delete(stale);
		if (this.open.get(shard) === call) this.open.delete(shard);
		this.inFlight.add(written);
		let ok = false;
		try {
			await send(call.entries);
			ok = true;
		} catch {
			ok = false;
		} finally {
			this.inFlight.delete(written);
			settle(ok);
		}
		return ok;
	}
}

/** Lanes per index namespace (tests pass bindings of their own). */
const lanes = new WeakMap<object, IndexLane>();

function laneOf(namespace: object): IndexLane {
	let lane = lanes.get(namespace);
	if (!lane) {
		lane = new IndexLane();
		lanes.set(namespace, lane);
	}
	return lane;
}

/**
 * The shard that `count` tasks about to be created should hash to, so that their rows join the
 * call this isolate is filling for `namespace` (or open the next one, round the shards).
 */
export function pickShard(namespace: object, shards: number, count: number): number {
	return laneOf(namespace).pickShard(shards, count);
}

/**
 * Writes `entries` (all of one shard) in the call being filled for that shard, with the rows of
 * other submits from this isolate. `namespace` keys the lanes (the index binding); `send` makes
 * the call, in the request of the submit that opened it.
 */
export function writeCoalesced(namespace: object, shard: number, entries: IndexEntry[], send: SendRows): Promise<boolean> {
	return laneOf(namespace).write(shard, entries, send);
}

/** `promise`'s outcome, or false when it has not come within `ms` (or it rejected). */
function withPatience(promise: Promise<boolean>, ms: number): Promise<boolean> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const timeout = new Promise<boolean>((resolve) => {
		timer = setTimeout(() => resolve(false), ms);
	});
	return Promise.race([promise.catch(() => false), timeout]).finally(() => clearTimeout(timer));
}
