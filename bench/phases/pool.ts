// What every phase shares: C requests in flight, and a sample of the errors they met.

/** Runs `worker` on `concurrency` lanes until it returns false on every lane. */
export async function pool(concurrency: number, worker: (lane: number) => Promise<boolean>): Promise<void> {
	await Promise.all(
		Array.from({ length: concurrency }, async (_, lane) => {
			while (await worker(lane)) {
				// Next item.
			}
		}),
	);
}

/** Remembers the first few distinct error messages of a phase (for the report). */
export class ErrorLog {
	count = 0;
	readonly samples: string[] = [];

	add(message: string): void {
		this.count += 1;
		if (this.samples.length < 5 && !this.samples.includes(message)) this.samples.push(message);
	}
}
