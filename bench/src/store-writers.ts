/**
 * `npx tsx bench/src/store-writers.ts [--duration s] [--url postgres://…]`: the PostgreSQL store
 * against the SQLite store (the baseline, measured in the same run), in process, no HTTP.
 * Each write is one transaction that inserts a row and appends its change-log entry, the shape
 * of every REST insert. Cells: 1 and 8 concurrent writers; PostgreSQL with and without the
 * per-commit NOTIFY; then synchronous related-row lookups (`rowExists`), which policies make per
 * row. Prints one JSON object; timings are for comparison within the run only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { compileManifest, type Manifest } from '@mast/schema';
import { createPgStore, createSqliteStore, migrateStore, type Store } from '@mast/server';
import { loadAverages } from './harness/machine-info.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const DURATION_MS = Number(option('--duration') ?? 3) * 1000;
const URL = option('--url') ?? process.env['MAST_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'store-writers',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Item',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'owner', type: 'string', optional: true, unique: false },
      ],
      indexes: [{ name: 'by_owner', fields: ['owner'], unique: false }],
    },
  ],
};

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

let counter = 0;

/** `writers` loops of insert + appendChange transactions for the duration. */
async function writes(store: Store, writers: number): Promise<Record<string, number>> {
  const latencies: number[] = [];
  const end = performance.now() + DURATION_MS;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const id = `w${counter++}`;
      const started = performance.now();
      await store.write(async (tx) => {
        const row = await tx.insert('Item', { id, title: 'x', owner: `u${counter % 50}` });
        await tx.appendChange({ entity: 'Item', rowId: id, kind: 'insert', data: row, opId: null });
      });
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: writers }, loop));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    writers,
    commits: latencies.length,
    commitsPerSec: Math.round(latencies.length / seconds),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)),
    p99Ms: Number(percentile(latencies, 99).toFixed(2)),
  };
}

/** Synchronous `rowExists` calls, outside any transaction, for the duration (at most 20,000). */
function lookups(store: Store): Record<string, number> {
  const latencies: number[] = [];
  const end = performance.now() + Math.min(DURATION_MS, 2000);
  for (let i = 0; performance.now() < end && i < 20_000; i++) {
    const started = performance.now();
    store.rowExists('Item', { kind: 'compare', field: 'owner', op: 'eq', value: `u${i % 60}` });
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  return { lookups: latencies.length, p50Us: Math.round(percentile(latencies, 50) * 1000), p99Us: Math.round(percentile(latencies, 99) * 1000) };
}

async function withSqlite<T>(task: (store: Store) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-bench-'));
  const store = createSqliteStore({ path: join(dir, 'bench.db') });
  try {
    await migrateStore(store, compileManifest(manifest), { allowDestructive: false });
    return await task(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function withPostgres<T>(notify: boolean, task: (store: Store) => Promise<T>): Promise<T> {
  const schema = `mast_bench_${process.pid}_${counter++}`;
  const store = await createPgStore({ url: URL, schema, notify });
  try {
    await migrateStore(store, compileManifest(manifest), { allowDestructive: false });
    return await task(store);
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

const result: Record<string, unknown> = { durationSec: DURATION_MS / 1000, loadBefore: loadAverages() };
const cells: Array<Record<string, unknown>> = [];
for (const writers of [1, 8]) {
  cells.push({ store: 'sqlite (baseline)', ...(await withSqlite((store) => writes(store, writers))) });
  cells.push({ store: 'postgres', ...(await withPostgres(true, (store) => writes(store, writers))) });
  cells.push({ store: 'postgres, no NOTIFY', ...(await withPostgres(false, (store) => writes(store, writers))) });
}
result['writes'] = cells;
/** Some rows first, then the lookups. */
const seededLookups = async (store: Store): Promise<Record<string, number>> => {
  await writes(store, 1);
  return lookups(store);
};
result['rowExists'] = [
  { store: 'sqlite (baseline)', ...(await withSqlite(seededLookups)) },
  { store: 'postgres', ...(await withPostgres(false, seededLookups)) },
];
result['loadAfter'] = loadAverages();
console.log(JSON.stringify(result, null, 2));
