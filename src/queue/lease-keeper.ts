// Keeps a running attempt's lease alive: while the handler runs, the consumer renews the lease with
// the task's object every LEASE_SECONDS - LEASE_RENEW_MARGIN_SECONDS (progress writes renew it too,
// so most of these calls write nothing). If the consumer dies, the renewals stop and the object
// retries the attempt when the lease lapses, whatever the type's timeout.
import { LEASE_RENEW_MARGIN_SECONDS, LEASE_SECONDS } from "../config";

/** The attempt's object refused a renewal: the lease lapsed or another attempt took over. */
export class LeaseLostError extends Error {
	override name = "LeaseLostError";
}

export class LeaseKeeper {
	private readonly controller = new AbortController();
	private readonly timer: ReturnType<typeof setInterval>;
	private inFlight = false;

	/** `renew` answers false when the object refused (the attempt no longer holds the lease). */
	constructor(
		private readonly renew: () => Promise<boolean>,
		intervalMs = (LEASE_SECONDS - LEASE_RENEW_MARGIN_SECONDS) * 1000,
	) {
		this.timer = setInterval(() => this.beat(), intervalMs);
	}

	/** Aborted (with a LeaseLostError) once a renewal is refused: the handler should stop. */
	get signal(): AbortSignal {
		return this.controller.signal;
	}

	/** Stops renewing (the attempt ended). */
	stop(): void {
		clearInterval(this.timer);
	}

	private beat(): void {
		if (this.inFlight) return;
		this.inFlight = true;
		this.renew()
			.then((held) => {
				if (held) return;
				this.stop();
				this.controller.abort(new LeaseLostError("This attempt lost its lease; its outcome would be refused."));
			})
			// A failed call (the object could not be reached) is tried again at the next beat; the
			// lease has LEASE_RENEW_MARGIN_SECONDS to spare.
			.catch(() => {})
			.finally(() => {
				this.inFlight = false;
			});
	}
}
