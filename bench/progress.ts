// Progress: one line per phase, redrawn in place on a terminal (at most once a second); without
// a terminal, a line at most every 10 s, then the final one.

export class Progress {
	/** The first redraw comes a period after the phase started, not at once. */
	private lastDraw = Date.now();
	private drawn = false;
	private readonly tty = process.stderr.isTTY === true;
	private readonly label: string;

	constructor(label: string) {
		this.label = label;
	}

	update(text: string): void {
		const now = Date.now();
		if (now - this.lastDraw < (this.tty ? 1000 : 10_000)) return;
		this.lastDraw = now;
		this.draw(text, false);
	}

	done(text: string): void {
		this.draw(text, true);
	}

	private draw(text: string, final: boolean): void {
		const line = `  ${this.label}: ${text}`;
		if (this.tty) {
			process.stderr.write(`\r\x1b[K${line}${final ? "\n" : ""}`);
		} else {
			process.stderr.write(`${line}\n`);
		}
		this.drawn = !final;
	}

	/** Ends an in-place line that never got its final text (on errors). */
	abandon(): void {
		if (this.tty && this.drawn) process.stderr.write("\n");
		this.drawn = false;
	}
}
