/**
 * `crud`: insert, get by id, list 100, update and a filtered query on a 10,000-row table, over
 * HTTP at concurrency 1, 16 and 64, against the same operations on the store in-process and a
 * bare `node:http` floor, all measured in this run.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '@mast/schema';
import type { MastConfig, ReadTx, Row } from '@mast/server';
import { PYLON_TARGET, type Check, type Measurement, type ResultRow, type Scenario, type ScenarioContext, type ScenarioResult } from '../scenario.js';
import { attempt, errorLine, quietest, ratio, round2, type Outcome } from '../harness/cell-runner.js';
import { startChild, type BenchChild } from '../harness/child-process.js';
import { seedPylon, startPylon, PYLON_VERSION, type PylonServer } from '../harness/pylon.js';
import type { LoadParams } from '../harness/load-process.js';
import type { RequestTemplate } from '../harness/request-template.js';
import { seedDatabase } from '../harness/seed-database.js';
import type { ServerParams } from '../harness/server-process.js';
import type { StoreOp, StoreOpenParams, StoreRunParams } from '../harness/store-process.js';
import { waitForHealth } from '../harness/wait-for-health.js';

const ENTITY = 'Todo';
const SEED_ROWS = 10_000;
const CONCURRENCY = [1, 16, 64] as const;
const OPS = ['insert', 'get', 'list', 'update', 'query'] as const;
type CrudOp = (typeof OPS)[number];
/**
 * Reads run before writes, and inserts last: inserted rows would otherwise grow the set the
 * query sorts, by a different amount on each side (the store inserts several times faster).
 * Updates keep the seeded distribution (done 50/50, priority uniform 0-4).
 */
const RUN_ORDER: readonly CrudOp[] = ['get', 'list', 'query', 'update', 'insert'];
type FindQuery = Parameters<ReadTx['find']>[1];

/** The app the scenario serves: one entity with an index on the queried fields. */
const MANIFEST: Manifest = {
  manifest_version: 1,
  name: 'bench',
  version: '1.0.0',
  entities: [
    {
      name: ENTITY,
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'done', type: 'bool', optional: false, unique: false },
        { name: 'priority', type: 'int', optional: false, unique: false },
        { name: 'tags', type: 'string', optional: true, unique: false },
        { name: 'createdAt', type: 'datetime', optional: true, unique: false },
      ],
      indexes: [{ name: 'by_done_priority', fields: ['done', 'priority'], unique: false }],
    },
  ],
  routes: [],
  // Access is deny-by-default; the bench calls anonymously, so it opens its one entity. The
  // HTTP side still pays for the policy check, the in-process store side does not.
  policies: [{ name: 'bench_open', entity: ENTITY, allow: 'true' }],
};

/** Server settings that differ from the defaults, and why. */
const SERVER_CONFIG: Partial<MastConfig> = {
  // One client address sends everything here; the default 12,000 requests/minute would turn
  // the run into a measurement of 429s after the first 200 requests per second.
  rateLimit: 0,
};

const QUERY_BODY = { done: false, priority: { $gte: 3 }, $order: { priority: 'desc' }, $limit: 20 };

/** The same query as the filter tree the HTTP layer builds from QUERY_BODY (it asks limit + 1). */
const QUERY: FindQuery = {
  where: {
    kind: 'and',
    items: [
      { kind: 'compare', field: 'done', op: 'eq', value: false },
      { kind: 'compare', field: 'priority', op: 'gte', value: 3 },
    ],
  },
  order: [{ field: 'priority', direction: 'desc' }],
  limit: 21,
};

const CREATED_AT = '2025-01-01T00:00:00.000Z';
const INSERT_BODY = `{"title":"bench {seq}","done":false,"priority":{int:0:4},"tags":"bench","createdAt":"${CREATED_AT}"}`;
const UPDATE_BODY = '{"priority":{int:0:4},"done":{bool}}';

const TEMPLATES: Readonly<Record<CrudOp, RequestTemplate>> = {
  insert: { method: 'POST', path: `/api/entities/${ENTITY}`, body: INSERT_BODY, expectStatus: 201 },
  get: { method: 'GET', path: `/api/entities/${ENTITY}/{id}`, expectStatus: 200 },
  list: { method: 'GET', path: `/api/entities/${ENTITY}?limit=100`, expectStatus: 200 },
  update: { method: 'PATCH', path: `/api/entities/${ENTITY}/{id}`, body: UPDATE_BODY, expectStatus: 200 },
  query: { method: 'POST', path: `/api/query/${ENTITY}`, body: JSON.stringify(QUERY_BODY), expectStatus: 200 },
};

const FLOOR_TEMPLATE: RequestTemplate = { method: 'GET', path: '/', expectStatus: 200 };

/** Seeded ids look like the server's own: 40 hex digits that sort in creation order. */
function seedId(index: number): string {
  return (0x1800000000000000n + BigInt(index)).toString(16).padStart(32, '0') + '00000000';
}

function seedRow(index: number): Row {
  return { id: seedId(index), title: `todo ${index}`, done: index % 2 === 1, priority: index % 5, tags: 'seed', createdAt: CREATED_AT };
}

let insertCounter = 0;

/** Ids for in-process inserts, after every seeded id and unique within the process. */
function insertId(): string {
  return (0x1900000000000000n + BigInt(++insertCounter)).toString(16).padStart(32, '0') + process.pid.toString(16).padStart(8, '0');
}

/** The operations as the write path and entity reader run them on the store, minus HTTP. */
export const storeOps: Readonly<Record<CrudOp, StoreOp>> = {
  insert: async (store, source) => {
    await store.write(async (tx) => {
      const row = await tx.insert(ENTITY, { id: insertId(), title: `bench ${source.seq()}`, done: false, priority: source.int(0, 4), tags: 'bench', createdAt: CREATED_AT });
      await tx.appendChange({ entity: ENTITY, rowId: row.id, kind: 'insert', data: row, opId: null });
    });
  },
  get: async (store, source) => {
    const id = source.id();
    const row = await store.read((tx) => tx.get(ENTITY, id));
    if (!row) throw new Error(`no row ${id}`);
  },
  list: async (store) => {
    const rows = await store.read((tx) => tx.find(ENTITY, { limit: 101 }));
    if (rows.length < 100) throw new Error(`list returned ${rows.length} rows`);
  },
  update: async (store, source) => {
    const id = source.id();
    await store.write(async (tx) => {
      const row = await tx.update(ENTITY, id, { priority: source.int(0, 4), done: source.bool() });
      if (!row) throw new Error(`no row ${id}`);
      await tx.appendChange({ entity: ENTITY, rowId: id, kind: 'update', data: row, opId: null });
    });
  },
  query: async (store) => {
    const rows = await store.read((tx) => tx.find(ENTITY, QUERY));
    if (rows.length === 0) throw new Error('query matched nothing');
  },
};

const key = (op: string, c: number): string => `${op}@${c}`;

type Target = 'store' | 'floor' | 'http' | 'pylon';

/** Outcomes by target and `op@c`, and why a whole target was skipped. */
interface Results {
  readonly store: Map<string, Outcome>;
  readonly http: Map<string, Outcome>;
  readonly floor: Map<string, Outcome>;
  readonly pylon: Map<string, Outcome>;
  readonly skipped: Partial<Record<Target, string>>;
}

/**
 * Starts every target, measures the floor, then runs each cell on the store and right after it
 * over HTTP, so both sides of a ratio see the same background load on a shared machine.
 */
async function run(context: ScenarioContext): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-bench-crud-'));
  const children: BenchChild[] = [];
  const spawn = async (file: string, label: string, nodeArgs: readonly string[] = []): Promise<BenchChild> => {
    const child = await startChild(new URL(`../harness/${file}`, import.meta.url), label, nodeArgs);
    children.push(child);
    return child;
  };
  const timeout = (context.warmupSec + context.durationSec) * 1000 + 30_000;
  const results: Results = { store: new Map(), http: new Map(), floor: new Map(), pylon: new Map(), skipped: {} };
  let pylon: PylonServer | null = null;
  /** Starts one target; a failure skips that target's cells, not the others'. */
  const start = async <T>(targets: readonly Target[], title: string, fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn();
    } catch (err) {
      const reason = `${title} failed: ${errorLine(err)}`;
      for (const target of targets) results.skipped[target] ??= reason;
      context.log(`crud: ${reason}`);
      return null;
    }
  };
  const pids = (): number[] => [process.pid, ...children.map((child) => child.pid), ...(pylon ? [pylon.pid] : [])];
  /** Restarts Pylon (outside the measurement), then measures the cell on it. */
  const measurePylon = async (server: PylonServer, label: string, fn: () => Promise<Measurement>): Promise<Outcome> => {
    try {
      await server.restart();
    } catch (err) {
      return { ok: false, error: `restarting Pylon failed: ${errorLine(err)}` };
    }
    return attempt(label, context, pids, fn);
  };
  const window = { durationSec: context.durationSec, warmupSec: context.warmupSec };
  try {
    context.log(`crud: seeding ${SEED_ROWS} rows twice (store baseline, server)`);
    const ids = await seedDatabase(join(dir, 'store.db'), MANIFEST, ENTITY, SEED_ROWS, seedRow);
    await seedDatabase(join(dir, 'server.db'), MANIFEST, ENTITY, SEED_ROWS, seedRow);

    const store = await start(['store'], 'starting the in-process store', async () => {
      const child = await spawn('store-process.ts', 'store baseline');
      const open: StoreOpenParams = { dbPath: join(dir, 'store.db'), manifest: MANIFEST, opsModule: import.meta.url };
      await child.call('open', open, 30_000);
      return child;
    });
    const loader = await start(['floor', 'http'], 'starting the load generator', () => spawn('load-process.ts', 'load generator'));

    if (loader) {
      context.log('crud: node:http floor');
      const floor = await start(['floor'], 'starting the node:http floor', async () => {
        const child = await spawn('floor-process.ts', 'http floor');
        return { child, origin: `http://127.0.0.1:${(await child.call<{ port: number }>('start', null, 10_000)).port}` };
      });
      for (const c of floor ? CONCURRENCY : []) {
        const params: LoadParams = { origin: floor!.origin, template: FLOOR_TEMPLATE, ids, connections: c, ...window };
        const { floor: outcome } = await quietest(context, `floor c=${c}`, async () => ({
          floor: await attempt(`floor c=${c}`, context, pids, () => loader.call('run', params, timeout)),
        }));
        if (outcome) results.floor.set(key('floor', c), outcome);
      }
      await floor?.child.stop();
    }

    const origin = !loader
      ? null
      : await start(['http'], 'starting the Mast server', async () => {
          const profile = context.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${context.cpuProfileDir}`] : [];
          if (context.cpuProfileDir) mkdirSync(context.cpuProfileDir, { recursive: true });
          const child = await spawn('server-process.ts', 'mast server', profile);
          const serverParams: ServerParams = { appDir: dir, manifest: MANIFEST, config: { ...SERVER_CONFIG, databaseUrl: join(dir, 'server.db') } };
          const url = `http://127.0.0.1:${(await child.call<{ port: number }>('start', serverParams, 30_000)).port}`;
          await waitForHealth(url);
          return url;
        });

    if (loader && context.against === 'pylon') {
      pylon = await start(['pylon'], `starting Pylon ${PYLON_VERSION}`, async () => {
        context.log(`crud: starting Pylon ${PYLON_VERSION} and seeding the same ${SEED_ROWS} rows through its /api/batch`);
        const server = await startPylon(MANIFEST);
        try {
          await seedPylon(
            server,
            ENTITY,
            Array.from({ length: SEED_ROWS }, (_, i) => seedRow(i)),
          );
        } catch (err) {
          await server.stop();
          throw err;
        }
        return server;
      });
    }

    context.log(`crud: each cell in-process on the store, then over HTTP${pylon ? ', then on Pylon (restarted first)' : ''}`);
    for (const op of RUN_ORDER) {
      for (const c of CONCURRENCY) {
        const storeParams: StoreRunParams = { op, ids, concurrency: c, ...window };
        const httpParams: LoadParams | null = origin ? { origin, template: TEMPLATES[op], ids, connections: c, ...window } : null;
        const pylonParams: LoadParams | null = pylon ? { origin: pylon.origin, template: TEMPLATES[op], ids, connections: c, ...window } : null;
        const cells = await quietest<Target>(context, `${op} c=${c}`, async () => ({
          ...(store ? { store: await attempt(`store ${op} c=${c}`, context, pids, () => store.call('run', storeParams, timeout)) } : {}),
          ...(loader && httpParams ? { http: await attempt(`http ${op} c=${c}`, context, pids, () => loader.call('run', httpParams, timeout)) } : {}),
          ...(loader && pylon && pylonParams ? { pylon: await measurePylon(pylon, `pylon ${op} c=${c}`, () => loader.call('run', pylonParams, timeout)) } : {}),
        }));
        if (cells.store) results.store.set(key(op, c), cells.store);
        if (cells.http) results.http.set(key(op, c), cells.http);
        if (cells.pylon) results.pylon.set(key(op, c), cells.pylon);
      }
    }
  } finally {
    // Children stop in reverse order of start; the server's stop writes its CPU profile.
    for (const child of children.reverse()) await child.stop().catch(() => undefined);
    await pylon?.stop().catch((err: unknown) => context.log(`crud: stopping Pylon failed: ${errorLine(err)}`));
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = buildRows(results);
  return {
    scenario: 'crud',
    description: crudScenario.description,
    setup: {
      entity: ENTITY,
      seededRows: SEED_ROWS,
      index: MANIFEST.entities[0]!.indexes[0],
      requests: Object.fromEntries(OPS.map((op) => [op, `${TEMPLATES[op].method} ${TEMPLATES[op].path}${TEMPLATES[op].body ? ` ${TEMPLATES[op].body}` : ''}`])),
      ids: 'get and update pick a random seeded id per request',
      serverConfig: { ...SERVER_CONFIG, logLevel: 'silent', databaseUrl: 'fresh temporary SQLite file' },
      floor: 'bare node:http server, GET / answering a fixed 92-byte JSON body',
    },
    rows,
    checks: buildChecks(rows),
    ...(context.against === 'pylon' ? { notes: pylonNotes(results) } : {}),
  };
}

/** How Pylon was run and which of its quirks show in the crud numbers. */
function pylonNotes(results: Results): string[] {
  if (results.skipped.pylon) return [`Pylon ${PYLON_VERSION} was not measured: ${results.skipped.pylon}.`];
  const failed = [...results.pylon].filter(([, o]) => !o.ok).map(([k, o]) => `${k}: ${o.ok ? '' : o.error}`);
  return [
    `Pylon ${PYLON_VERSION} ran from the anchor's serve.sh on the same manifest and the same ${SEED_ROWS} seeded rows (through its admin /api/batch), dev mode, rate limiters neutralised by serve.sh, request logging at warn; it is restarted (same database) before each of its cells so its fixed 100,000-requests-per-minute per-IP limiter never trips. Each Pylon cell runs right after the Mast cell of the same row, with the same autocannon load process.`,
    "Pylon answers keep-alive responses over about 1 KB about 44 ms late (its response is written in two sends without TCP_NODELAY, so the second waits for the client's delayed ACK): that is its `list` rows. Past 32 requests in flight it answers 503 OVERLOADED (the c=64 rows count them under err/non-2xx; its req/s counts 2xx only), and a burst of new keep-alive connections is often served by 4 threads while the rest wait, so its multi-connection percentiles describe the connections it served. Its inserts and updates also write an FTS5 row and a Loro snapshot per row.",
    ...(failed.length > 0 ? [`Pylon cells that failed: ${failed.join('; ')}.`] : []),
  ];
}

/** A failure message for a target's cell, or null when it was measured. */
function failureOf(target: Target, outcome: Outcome | undefined, results: Results): string | null {
  if (outcome?.ok) return null;
  if (outcome) return `${target}: ${outcome.error}`;
  return `${target}: not run (${results.skipped[target] ?? 'an earlier step failed'})`;
}

function buildRows(results: Results): ResultRow[] {
  const rows: ResultRow[] = [];
  for (const op of OPS) {
    for (const c of CONCURRENCY) {
      const h = results.http.get(key(op, c));
      const s = results.store.get(key(op, c));
      const f = results.floor.get(key('floor', c));
      const p = results.pylon.get(key(op, c));
      const measured: Record<string, Measurement> = {};
      if (h?.ok) measured['http'] = h.value;
      if (s?.ok) measured['store'] = s.value;
      if (p?.ok) measured[PYLON_TARGET] = p.value;
      const failure = [failureOf('http', h, results), failureOf('store', s, results)].filter((x) => x !== null).join('; ');
      rows.push({
        op,
        concurrency: c,
        results: measured,
        ratios: {
          httpVsStore: h?.ok && s?.ok && s.value.rps > 0 ? round2(h.value.rps / s.value.rps) : null,
          httpVsFloor: h?.ok && f?.ok && f.value.rps > 0 ? round2(h.value.rps / f.value.rps) : null,
          ...(p ? { mastVsPylon: ratio(h?.ok ? h.value.rps : undefined, p.ok ? p.value.rps : undefined) } : {}),
        },
        ...(failure ? { failure } : {}),
      });
    }
  }
  for (const c of CONCURRENCY) {
    const f = results.floor.get(key('floor', c));
    const failure = failureOf('floor', f, results);
    rows.push({ op: 'floor', concurrency: c, results: f?.ok ? { floor: f.value } : {}, ratios: {}, ...(failure ? { failure } : {}) });
  }
  return rows;
}

/** The issue's targets: insert and get at c=16 within 2× of the store; p99 under 10 ms at c=16. */
function buildChecks(rows: readonly ResultRow[]): Check[] {
  const checks: Check[] = [];
  const at16 = rows.filter((r) => r.concurrency === 16 && r.op !== 'floor');
  for (const row of at16.filter((r) => r.op === 'insert' || r.op === 'get')) {
    const ratio = row.ratios['httpVsStore'] ?? null;
    checks.push({ name: `${row.op} c=16: HTTP req/s >= 0.5x store`, pass: ratio !== null && ratio >= 0.5, value: ratio, limit: 0.5 });
  }
  for (const row of at16) {
    const p99 = row.results['http']?.latencyMs.p99 ?? null;
    checks.push({ name: `${row.op} c=16: HTTP p99 < 10 ms`, pass: p99 !== null && p99 < 10, value: p99, limit: 10 });
  }
  return checks;
}

/** The CRUD scenario. */
export const crudScenario: Scenario = {
  name: 'crud',
  description: 'insert, get by id, list 100, update and filtered query over HTTP at c=1/16/64, against the store in-process and a bare node:http floor',
  run,
};
