/**
 * Child process: the fan-out scenario's writer. It PATCHes one row per write at a fixed rate
 * (open loop: a write is sent when it is due, whether or not earlier ones have been answered,
 * at most MAX_IN_FLIGHT at once), round-robin over the rows, and returns each write's seq,
 * topic, and send and response times on the machine-wide monotonic clock.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { serveRunner } from './child-rpc.js';
import { DeliveryHistogram, monotonicMs, type DeliveryLatency } from './delivery-histogram.js';
import type { WriteRecord } from './fanout-client-process.js';

/** What one `run` writes. */
export interface WriterParams {
  /** `http://127.0.0.1:<port>`; any other host is refused. */
  readonly origin: string;
  readonly entity: string;
  /** The rows written, round-robin; each subscriber's topic is one of them. */
  readonly rows: readonly { readonly id: string; readonly topic: number }[];
  readonly ratePerSec: number;
  readonly count: number;
}

/** The writes and how the writer kept up. */
export interface WriterResult {
  readonly writes: readonly WriteRecord[];
  readonly errors: number;
  readonly non2xx: number;
  /** Writes answered per second over the run. */
  readonly achievedPerSec: number;
  /** How late the last write was sent against its schedule, in ms (the writer or server fell behind). */
  readonly lagMs: number;
  /** HTTP latency of the writes themselves. */
  readonly writeLatencyMs: DeliveryLatency;
}

const MAX_IN_FLIGHT = 64;
/**
 * The value written, unique over the process's life: a PATCH that sets a row to the value it
 * already has changes nothing, and Mast rightly sends no diff for it.
 */
let nextValue = 1;
const REQUEST_TIMEOUT_MS = 10_000;

async function run(raw: unknown): Promise<WriterResult> {
  const params = raw as WriterParams;
  const origin = new URL(params.origin);
  if (origin.hostname !== '127.0.0.1' || origin.protocol !== 'http:') throw new Error(`refusing to write to ${params.origin}: only http://127.0.0.1 is a target`);
  const writes: WriteRecord[] = [];
  const latency = new DeliveryHistogram();
  let errors = 0;
  let non2xx = 0;
  let inFlight = 0;
  let lagMs = 0;
  const pending: Promise<void>[] = [];
  const write = async (k: number): Promise<void> => {
    const row = params.rows[k % params.rows.length]!;
    const value = nextValue++;
    const sentAt = monotonicMs();
    try {
      const response = await fetch(`${params.origin}/api/entities/${params.entity}/${row.id}`, {
        method: 'PATCH',
        body: `{"n":${value}}`,
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      const at = monotonicMs();
      latency.record(at - sentAt);
      if (response.status < 200 || response.status > 299) {
        non2xx++;
        return;
      }
      // Pylon answers {"updated":true} and sends the seq in a header.
      const seq = (JSON.parse(text) as { seq?: number }).seq ?? Number(response.headers.get('x-pylon-change-seq'));
      writes.push({ seq, topic: row.topic, sentAt, at });
    } catch {
      errors++;
    } finally {
      inFlight--;
    }
  };
  const start = monotonicMs();
  const intervalMs = 1000 / params.ratePerSec;
  for (let k = 0; k < params.count; ) {
    const now = monotonicMs();
    while (k < params.count && start + k * intervalMs <= now && inFlight < MAX_IN_FLIGHT) {
      lagMs = now - (start + k * intervalMs);
      inFlight++;
      pending.push(write(k++));
    }
    if (k < params.count) await sleep(Math.max(0, Math.min(5, start + k * intervalMs - monotonicMs())));
  }
  await Promise.all(pending);
  const seconds = (monotonicMs() - start) / 1000;
  return { writes, errors, non2xx, achievedPerSec: Math.round(writes.length / seconds), lagMs: Math.round(lagMs * 100) / 100, writeLatencyMs: latency.summary() };
}

serveRunner({ run });
