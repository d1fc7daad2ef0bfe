// When a schedule fires: cron expressions (parsed by croner, with IANA time zones) and fixed
// intervals, bounded by startAt (inclusive) and endAt (exclusive). Pure functions of a cadence and
// instants in milliseconds, so the schedule's Durable Object and the tests share one definition.
//
// Daylight saving (croner's rules, which follow Vixie cron; see the README's "Schedules"):
// - a fixed-time expression (one value in each of second, minute and hour, e.g. `30 2 * * *`)
//   whose time does not exist on a spring-forward day fires once, at the first valid time after
//   the gap (03:00 local); one whose time occurs twice in autumn fires once, at the first occurrence;
// - any other expression (`*/30 * * * *`, `0 1,2 * * *`) skips times in the gap and fires at both
//   occurrences of a repeated time.
import { Cron } from "croner";
import type { FieldError } from "./errors";

export type Cadence =
	| { kind: "cron"; cron: string; timezone: string }
	| { kind: "every"; seconds: number; /** Fires are anchor + k·seconds. */ anchor: number };

export type Window = { startAt?: number; endAt?: number };

/** An IANA time zone name the runtime knows (Intl throws a RangeError otherwise). */
function isTimeZone(name: string): boolean {
	try {
		new Intl.DateTimeFormat("en-US", { timeZone: name });
		return true;
	} catch {
		return false;
	}
}

// Parsing a pattern is cheap but not free; a schedule's object asks about the same one repeatedly.
const parsed = new Map<string, Cron>();

function cronOf(cron: string, timezone: string): Cron {
	const key = `${timezone} ${cron}`;
	let job = parsed.get(key);
	if (!job) {
		// "5-or-6-parts": five fields, or six with seconds first; no year field. The job is never
		// started (no callback): it is only asked for run times.
		job = new Cron(cron, { timezone, mode: "5-or-6-parts" });
		if (parsed.size > 1000) parsed.clear();
		parsed.set(key, job);
	}
	return job;
}

/** Problems with a cron expression and time zone, at paths `cron` and `timezone`. */
export function checkCron(cron: string, timezone: string): FieldError[] {
	if (!isTimeZone(timezone)) return [{ path: "timezone", message: `Unknown IANA time zone "${timezone}".` }];
	let job: Cron;
	try {
		job = cronOf(cron, timezone);
	} catch (error) {
		// croner's messages name the bad field ("Invalid value for minute: 61"): safe and useful.
		const message = error instanceof Error ? error.message.replace(/^CronPattern: /, "") : "Invalid cron expression.";
		return [{ path: "cron", message }];
	}
	// A valid expression that matches no date at all (e.g. `0 0 30 2 *`, February 30th).
	if (job.nextRun(new Date()) === null) return [{ path: "cron", message: "The expression never fires." }];
	return [];
}

/** The first fire time strictly after `after`, inside the window; null when there is none. */
export function nextFireAfter(cadence: Cadence, window: Window, after: number): number | null {
	const from = Math.max(after, (window.startAt ?? Number.NEGATIVE_INFINITY) - 1);
	let next: number | null;
	if (cadence.kind === "every") {
		const step = cadence.seconds * 1000;
		next = from < cadence.anchor ? cadence.anchor : cadence.anchor + (Math.floor((from - cadence.anchor) / step) + 1) * step;
	} else {
		next = cronOf(cadence.cron, cadence.timezone).nextRun(new Date(from))?.getTime() ?? null;
	}
	if (next === null || (window.endAt !== undefined && next >= window.endAt)) return null;
	return next;
}

/** The next `count` fire times after `after`. */
export function nextFires(cadence: Cadence, window: Window, after: number, count: number): number[] {
	const fires: number[] = [];
	let at: number | null = after;
	while (fires.length < count && (at = nextFireAfter(cadence, window, at)) !== null) fires.push(at);
	return fires;
}

/** Largest number of fire times counted one by one for a cron gap (an interval is counted exactly). */
const MAX_COUNTED_FIRES = 1000;

/**
 * The fire times from `first` (a fire time) up to `until`, summarised: how many (for a cron
 * cadence at most MAX_COUNTED_FIRES, then `capped`), the latest, and the one before it.
 */
export function firesThrough(
	cadence: Cadence,
	window: Window,
	first: number,
	until: number,
): { count: number; latest: number; beforeLatest: number | null; capped: boolean } | null {
	const end = window.endAt === undefined ? until : Math.min(until, window.endAt - 1);
	if (first > end) return null;
	if (cadence.kind === "every") {
		const step = cadence.seconds * 1000;
		const count = Math.floor((end - first) / step) + 1;
		const latest = first + (count - 1) * step;
		return { count, latest, beforeLatest: count > 1 ? latest - step : null, capped: false };
	}
	let count = 1;
	let latest = first;
	let beforeLatest: number | null = null;
	for (;;) {
		const next = nextFireAfter(cadence, window, latest);
		if (next === null || next > end) return { count, latest, beforeLatest, capped: false };
		if (count === MAX_COUNTED_FIRES) {
			// Too many to walk: jump to the last two fire times at or before `end`.
			const [last, previous] = cronOf(cadence.cron, cadence.timezone)
				.previousRuns(2, new Date(end + 1))
				.map((date) => date.getTime());
			return { count, latest: last ?? next, beforeLatest: previous ?? latest, capped: true };
		}
		count++;
		beforeLatest = latest;
		latest = next;
	}
}
