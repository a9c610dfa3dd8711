/**
 * A latency histogram that child processes fill and the runner merges: 0.01 ms buckets from
 * -100 ms to 100 ms (a diff can arrive before the write's response), 1 ms buckets up to 60 s, sent over IPC as sparse [bucket, count] pairs. Percentiles
 * are therefore exact to 0.01 ms below 100 ms and to 1 ms above; min and max are exact.
 */

const FINE_MS = 0.01;
const FINE_LIMIT_MS = 100;
const FINE_BUCKETS = Math.round((2 * FINE_LIMIT_MS) / FINE_MS);
const COARSE_BUCKETS = 60_000 - FINE_LIMIT_MS;

/** A histogram as it crosses the IPC channel. */
export interface HistogramData {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly buckets: readonly (readonly [number, number])[];
}

/** Latency percentiles in ms (p50 to p99 are bucket upper bounds; min and max are exact). */
export interface DeliveryLatency {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Counts latencies in fixed buckets; values below -100 ms count in the first. */
export class DeliveryHistogram {
  readonly #counts = new Uint32Array(FINE_BUCKETS + COARSE_BUCKETS + 1);
  #count = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  /** Adds one latency in ms. */
  record(ms: number): void {
    const bucket =
      ms < FINE_LIMIT_MS ? Math.max(0, Math.floor((ms + FINE_LIMIT_MS) / FINE_MS)) : Math.min(FINE_BUCKETS + COARSE_BUCKETS, FINE_BUCKETS + Math.floor(ms - FINE_LIMIT_MS));
    this.#counts[bucket]!++;
    this.#count++;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** Adds another histogram's counts (from a child process). */
  merge(data: HistogramData): void {
    for (const [bucket, count] of data.buckets) this.#counts[bucket]! += count;
    this.#count += data.count;
    if (data.count > 0) {
      this.#min = Math.min(this.#min, data.min);
      this.#max = Math.max(this.#max, data.max);
    }
  }

  /** The sparse form for IPC. */
  toData(): HistogramData {
    const buckets: [number, number][] = [];
    this.#counts.forEach((count, bucket) => {
      if (count > 0) buckets.push([bucket, count]);
    });
    return { count: this.#count, min: this.#min, max: this.#max, buckets };
  }

  /** Nearest-rank percentiles; all zeros when empty. */
  summary(): DeliveryLatency {
    if (this.#count === 0) return { count: 0, min: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
    const upper = (bucket: number): number => (bucket < FINE_BUCKETS ? (bucket + 1) * FINE_MS - FINE_LIMIT_MS : FINE_LIMIT_MS + (bucket - FINE_BUCKETS + 1));
    const rank = (p: number): number => {
      const target = Math.max(1, Math.ceil((p / 100) * this.#count));
      let seen = 0;
      for (let bucket = 0; bucket < this.#counts.length; bucket++) {
        seen += this.#counts[bucket]!;
        if (seen >= target) return round2(Math.min(upper(bucket), this.#max));
      }
      return round2(this.#max);
    };
    return { count: this.#count, min: round2(this.#min), p50: rank(50), p90: rank(90), p95: rank(95), p99: rank(99), max: round2(this.#max) };
  }
}

/** A monotonic clock in ms shared by every process on the machine (CLOCK_MONOTONIC). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
