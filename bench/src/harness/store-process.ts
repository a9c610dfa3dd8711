/**
 * Child process: the in-process baseline. It opens the store on its own SQLite file and runs one
 * scenario's store operations directly, with no HTTP: one sequential loop at concurrency 1, N
 * interleaved async loops at concurrency N (on SQLite, writes still queue for the one writer).
 */
import { performance } from 'node:perf_hooks';
import { compileManifest } from '@mast/schema';
import { createSqliteStore, migrateStore, type Store } from '@mast/server';
import type { Measurement } from '../scenario.js';
import { serveRunner } from './child-rpc.js';
import { LatencyRecorder, measurement } from './latency-stats.js';
import { createValueSource, type ValueSource } from './request-template.js';

/** One operation against the store; throws when it did not do what it should. */
export type StoreOp = (store: Store, source: ValueSource) => Promise<void>;

/** What `open` needs: the database, its manifest, and the module whose `storeOps` to run. */
export interface StoreOpenParams {
  readonly dbPath: string;
  readonly manifest: unknown;
  /** URL of a module exporting `storeOps: Record<string, StoreOp>`. */
  readonly opsModule: string;
}

/** What one `run` call measures. */
export interface StoreRunParams {
  readonly op: string;
  readonly ids: readonly string[];
  readonly concurrency: number;
  readonly durationSec: number;
  readonly warmupSec: number;
}

let store: Store | null = null;
let ops: Readonly<Record<string, StoreOp>> = {};

async function open(raw: unknown): Promise<null> {
  const params = raw as StoreOpenParams;
  store = createSqliteStore({ path: params.dbPath });
  await migrateStore(store, compileManifest(params.manifest), { allowDestructive: false });
  const module = (await import(params.opsModule)) as { storeOps?: Record<string, StoreOp> };
  if (!module.storeOps) throw new Error(`${params.opsModule} exports no storeOps`);
  ops = module.storeOps;
  return null;
}

/** Runs `op` in `concurrency` loops until `seconds` have passed. */
async function loops(op: StoreOp, s: Store, source: ValueSource, concurrency: number, seconds: number): Promise<Measurement> {
  const latencies = new LatencyRecorder();
  let errors = 0;
  let firstError: unknown = null;
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await op(s, source);
      } catch (err) {
        errors++;
        firstError ??= err;
      }
      latencies.record(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - start) / 1000;
  if (firstError !== null) console.error('store op failed:', firstError);
  return measurement(latencies.count, elapsed, latencies, { errors, non2xx: 0 });
}

async function run(raw: unknown): Promise<Measurement> {
  const params = raw as StoreRunParams;
  const op = ops[params.op];
  if (!store || !op) throw new Error(`unknown store op ${params.op} (or open() was not called)`);
  if (!(params.durationSec > 0 && params.durationSec <= 120)) throw new Error('duration must be in (0, 120] s');
  const source = createValueSource(params.ids);
  await op(store, source); // the status check: one op must succeed before anything is measured
  if (params.warmupSec > 0) await loops(op, store, source, params.concurrency, params.warmupSec);
  return loops(op, store, source, params.concurrency, params.durationSec);
}

serveRunner({ open, run }, async () => {
  await store?.close();
});
