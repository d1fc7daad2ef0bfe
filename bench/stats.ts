// The clock and the statistics every phase reports (nearest-rank percentiles, rates, rounding).
import { performance } from "node:perf_hooks";

/** Wall-clock milliseconds (epoch), sub-millisecond resolution, monotonic within this process. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

export type Summary = { count: number; mean: number; p50: number; p95: number; p99: number; max: number };

/** Nearest-rank percentiles; null for no samples. */
export function summarize(samples: readonly number[]): Summary | null {
	if (samples.length === 0) return null;
	const sorted = [...samples].sort((a, b) => a - b);
	const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
	const sum = sorted.reduce((total, value) => total + value, 0);
	return {
		count: sorted.length,
		mean: round(sum / sorted.length),
		p50: round(rank(50)),
		p95: round(rank(95)),
		p99: round(rank(99)),
		max: round(sorted[sorted.length - 1] ?? Number.NaN),
	};
}

export const round = (value: number, digits = 1): number => {
	const factor = 10 ** digits;
	return Math.round(value * factor) / factor;
};

export const perSecond = (count: number, ms: number): number | null => (ms > 0 ? round((count * 1000) / ms) : null);
