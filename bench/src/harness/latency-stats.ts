import type { LatencySummary, Measurement } from '../scenario.js';

/** A growable list of latencies in milliseconds, kept unrounded (sub-millisecond matters here). */
export class LatencyRecorder {
  #values = new Float64Array(4096);
  #count = 0;

  /** Adds one latency. */
  record(ms: number): void {
    if (this.#count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#count++] = ms;
  }

  /** How many latencies were recorded. */
  get count(): number {
    return this.#count;
  }

  /** p50/p90/p99 (nearest rank) and max, rounded to microseconds; zeros when empty. */
  summary(): LatencySummary {
    const sorted = this.#values.slice(0, this.#count).sort();
    const rank = (p: number): number => {
      if (sorted.length === 0) return 0;
      return round3(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);
    };
    return { p50: rank(50), p90: rank(90), p99: rank(99), max: rank(100) };
  }
}

/** Rounds to three decimals. */
export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Builds a measurement from counts, a window length and recorded latencies. */
export function measurement(
  completed: number,
  seconds: number,
  latencies: LatencyRecorder,
  failures: { errors: number; non2xx: number; statusCodes?: Record<string, number> },
): Measurement {
  return {
    completed,
    seconds: round3(seconds),
    rps: seconds > 0 ? Math.round(completed / seconds) : 0,
    latencyMs: latencies.summary(),
    errors: failures.errors,
    non2xx: failures.non2xx,
    ...(failures.statusCodes ? { statusCodes: failures.statusCodes } : {}),
  };
}
