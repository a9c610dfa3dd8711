/**
 * `crdt`: one 50,000-character richtext row with 10 socket subscribers while a client types one
 * character at a time at 20/s, pushing binary 0x11 updates: bytes each subscriber receives per
 * keystroke against the row's full snapshot (what Pylon sends on every write, measured in the
 * same run), push-to-receipt time and server CPU per update; then a cold load of 10 KB rows from
 * the sidecar after a restart; bytes the server writes per keystroke (write amplification); and
 * the document cache under a cap: many rows touched once each, RSS growth against the cap's
 * budget and against an uncapped server. The server and the clients run in separate child
 * processes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '@mast/schema';
import type { MastConfig } from '@mast/server';
import type { Check, Measurement, ResultRow, Scenario, ScenarioContext, ScenarioResult } from '../scenario.js';
import { startChild, type BenchChild } from '../harness/child-process.js';
import { withForeignCpu } from '../harness/cpu-monitor.js';
import type { CrdtTarget, TypeParams, TypeResult } from '../harness/crdt-client-process.js';
import type { FanoutServerParams } from '../harness/fanout-server-process.js';
import { seedDatabase } from '../harness/seed-database.js';
import { waitForHealth } from '../harness/wait-for-health.js';

const ENTITY = 'Note';
const FIELD = 'body';
const TOKEN = 'bench-crdt-admin-token';
const BIG_CHARS = 50_000;
/** Characters that make a snapshot of about 10 KB (the frame size is measured and reported). */
const COLD_CHARS = 5_000;
const COLD_ROWS = 20;
const SUBSCRIBERS = 10;
const KEYS_PER_SEC = 20;
const BYTES_TARGET = 200;
const COLD_TARGET_MS = 1;
/** Rows touched once each by the cache cell (`--full`: the 100,000 of the target). */
const CACHE_ROWS = 20_000;
const CACHE_ROWS_FULL = 100_000;
/** The cache cap of that cell: estimated document memory (it binds before the default 10,000 documents). */
const CACHE_CAP_BYTES = 16 * 1024 * 1024;
const CACHE_CHARS = 200;
const BATCH = 500;

const MANIFEST: Manifest = {
  manifest_version: 1,
  name: 'bench-crdt',
  version: '1.0.0',
  entities: [
    {
      name: ENTITY,
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: FIELD, type: 'richtext', optional: true, unique: false },
      ],
      indexes: [],
    },
  ],
  routes: [],
  policies: [{ name: 'bench_open', entity: ENTITY, allow: 'true' }],
};

/** Server settings that differ from the defaults: one address, and an admin token to push with. */
const SERVER_CONFIG: Partial<MastConfig> = { rateLimit: 0, adminToken: TOKEN };

/**
 * `chars` pseudo-random letters and spaces (a fixed seed): repeated prose would compress to a
 * snapshot of a few hundred bytes and flatter every size measured here.
 */
function text(chars: number, seed: number): string {
  let state = seed;
  let out = '';
  for (let i = 0; i < chars; i++) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const r = (state >>> 16) % 28;
    out += r >= 26 ? ' ' : String.fromCharCode(97 + r);
  }
  return out;
}

function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Bytes this process has passed to write(2) and friends: disk and sockets alike. */
function writtenBytes(pid: number): number {
  try {
    return Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function startServer(dir: string, dbPath: string, config: Partial<MastConfig> = {}): Promise<{ child: BenchChild; origin: string }> {
  const child = await startChild(new URL('../harness/fanout-server-process.ts', import.meta.url), 'mast server', ['--expose-gc']);
  const params: FanoutServerParams = { kind: 'mast', appDir: dir, manifest: MANIFEST, config: { ...SERVER_CONFIG, ...config, databaseUrl: dbPath } };
  const origin = `http://127.0.0.1:${(await child.call<{ port: number }>('start', params, 30_000)).port}`;
  await waitForHealth(origin);
  return { child, origin };
}

async function insert(origin: string, body: string): Promise<string> {
  const response = await fetch(`${origin}/api/entities/${ENTITY}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ title: 'bench', [FIELD]: body }),
  });
  const answer = (await response.json()) as { id?: string };
  if (response.status !== 201 || !answer.id) throw new Error(`insert answered ${response.status}: ${JSON.stringify(answer).slice(0, 200)}`);
  return answer.id;
}

async function batch(origin: string, operations: readonly unknown[]): Promise<void> {
  const response = await fetch(`${origin}/api/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ operations }),
  });
  if (response.status !== 200) throw new Error(`batch answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
}

/** What the server wrote for the typed row, per keystroke. */
interface WriteAmplification {
  /** write(2) bytes of the server process during typing minus what it sent on the sockets, per keystroke: SQLite's WAL and checkpoints. */
  readonly diskBytesPerKeystroke: number;
  /** Bytes the server sent on sockets per keystroke (0x11 frames to every subscriber plus 4 bytes of WebSocket header each). */
  readonly socketBytesPerKeystroke: number;
  /** Size of one change-log entry's row image (`data`; `before` is the same row one character shorter). */
  readonly changeLogRowBytes: number;
  /** The snapshot rewritten in the sidecar on every keystroke. */
  readonly snapshotBytes: number;
}

/** The row's change-log entries after `since`, through the sync pull. */
async function changeRowBytes(origin: string, since: number): Promise<{ entries: number; bytes: number; head: number }> {
  const response = await fetch(`${origin}/api/sync/pull?since=${since}&limit=1000`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const answer = (await response.json()) as { changes: Array<{ seq: number; data: unknown }> };
  const sizes = answer.changes.map((c) => Buffer.byteLength(JSON.stringify(c.data)));
  return { entries: sizes.length, bytes: sizes.reduce((a, b) => a + b, 0), head: answer.changes.at(-1)?.seq ?? since };
}

/** The cache cell: one server configuration touching every row once. */
interface CacheRun {
  readonly cacheDocs: number;
  readonly cacheBytes: number;
  readonly rssBeforeBytes: number;
  /** After the first fifth of the rows: from here on, a bounded cache adds nothing. */
  readonly rssAtFifthBytes: number;
  readonly rssAfterBytes: number;
  readonly rssGrowthBytes: number;
  readonly heapUsedGrowthBytes: number;
  readonly touchSeconds: number;
}

interface CacheResult {
  readonly rows: number;
  readonly capped: CacheRun;
  /**
   * The same pass with a cache that keeps nothing: what the process adds besides cached
   * documents (SQLite's page cache, the documents a batch holds while its transaction runs).
   */
  readonly noCache: CacheRun;
  /** The same rows on a server whose cache holds them all (not run with --full). */
  readonly uncapped: CacheRun | null;
}

/**
 * Creates `rows` rows (each document created and cached once) on a capped server, then, after
 * a restart, updates each row once in batches (each document loaded from the sidecar, changed,
 * saved, cached): RSS after a forced GC before and after the touch pass. Then the same pass on
 * an uncapped server over the same database.
 */
async function cacheCell(dir: string, rows: number, baseline: boolean, children: BenchChild[], log: (line: string) => void): Promise<CacheResult> {
  const dbPath = join(dir, 'cache.db');
  await seedDatabase(dbPath, MANIFEST, ENTITY, 0, () => ({ id: '' }));
  const capped: Partial<MastConfig> = { crdtCacheBytes: CACHE_CAP_BYTES };
  const uncapped: Partial<MastConfig> = { crdtCacheDocs: rows * 2, crdtCacheBytes: 64 * 1024 ** 3 };
  const noCache: Partial<MastConfig> = { crdtCacheDocs: 0 };
  const id = (i: number): string => `c${i}`;
  let server = await startServer(dir, dbPath, capped);
  children.push(server.child);
  for (let start = 0; start < rows; start += BATCH) {
    const ops = [];
    for (let i = start; i < Math.min(rows, start + BATCH); i++) ops.push({ op: 'insert', entity: ENTITY, data: { id: id(i), title: 'cached', [FIELD]: text(CACHE_CHARS, i) } });
    await batch(server.origin, ops);
    // JSON inserts store no document; the cell measures cached documents, so each row gets one.
    await server.child.call('materialize', { entity: ENTITY, ids: ops.map((op) => op.data.id) }, 120_000);
  }
  const pass = async (config: Partial<MastConfig>, round: number): Promise<CacheRun> => {
    await server.child.stop();
    server = await startServer(dir, dbPath, config);
    children.push(server.child);
    const before = await server.child.call<{ rss: number; heapUsed: number }>('rss', null, 30_000);
    const started = performance.now();
    let fifth = before;
    for (let start = 0; start < rows; start += BATCH) {
      if (start === Math.floor(rows / 5 / BATCH) * BATCH) fifth = await server.child.call<{ rss: number; heapUsed: number }>('rss', null, 30_000);
      const ops = [];
      for (let i = start; i < Math.min(rows, start + BATCH); i++) ops.push({ op: 'update', entity: ENTITY, id: id(i), data: { title: `touched ${round}` } });
      await batch(server.origin, ops);
    }
    const touchSeconds = Math.round((performance.now() - started) / 10) / 100;
    const after = await server.child.call<{ rss: number; heapUsed: number }>('rss', null, 30_000);
    const run: CacheRun = {
      cacheDocs: config.crdtCacheDocs ?? 10_000,
      cacheBytes: config.crdtCacheBytes ?? 0,
      rssBeforeBytes: before.rss,
      rssAtFifthBytes: fifth.rss,
      rssAfterBytes: after.rss,
      rssGrowthBytes: after.rss - before.rss,
      heapUsedGrowthBytes: after.heapUsed - before.heapUsed,
      touchSeconds,
    };
    log(
      `  ${rows} rows touched once, cache ${run.cacheDocs} docs / ${Math.round(run.cacheBytes / 1024 ** 2)} MiB: RSS ${mib(before.rss)} → ${mib(fifth.rss)} (a fifth) → ${mib(after.rss)} MiB (+${mib(run.rssGrowthBytes)}) in ${touchSeconds} s`,
    );
    return run;
  };
  const cappedRun = await pass(capped, 1);
  const noCacheRun = await pass(noCache, 2);
  const uncappedRun = baseline ? await pass(uncapped, 3) : null;
  return { rows, capped: cappedRun, noCache: noCacheRun, uncapped: uncappedRun };
}

const mib = (bytes: number): number => Math.round((bytes / 1024 ** 2) * 10) / 10;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : Math.round(sorted[Math.floor((sorted.length - 1) / 2)]! * 1000) / 1000;
}

interface ColdResult {
  readonly rows: number;
  readonly snapshotFrameBytes: number;
  /** crdt-subscribe → 0x10 on a restarted server: the first (sidecar read + import) and the second (cached) time per row. */
  readonly coldSubscribeMsMedian: number;
  readonly warmSubscribeMsMedian: number;
  readonly coldMinusWarmMsMedian: number;
}

async function run(context: ScenarioContext): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-bench-crdt-'));
  const dbPath = join(dir, 'server.db');
  const children: BenchChild[] = [];
  const rows: ResultRow[] = [];
  let typed: (TypeResult & { serverCpuMsPerUpdate: number; foreignCpuPct: number | null }) | null = null;
  let cold: ColdResult | null = null;
  let written: WriteAmplification | null = null;
  let cache: CacheResult | null = null;
  const cacheRows = context.full ? CACHE_ROWS_FULL : CACHE_ROWS;
  const failures: Record<string, string> = {};
  const message = (err: unknown): string => (err instanceof Error ? err.message.split('\n')[0]! : String(err));
  try {
    await seedDatabase(dbPath, MANIFEST, ENTITY, 0, () => ({ id: '' }));
    const clients = await startChild(new URL('../harness/crdt-client-process.ts', import.meta.url), 'crdt clients');
    children.push(clients);
    let server = await startServer(dir, dbPath);
    children.push(server.child);
    const bigId = await insert(server.origin, text(BIG_CHARS, 1));
    const coldIds: string[] = [];
    for (let i = 0; i < COLD_ROWS; i++) coldIds.push(await insert(server.origin, text(COLD_CHARS, i + 2)));
    // JSON inserts store no document: the cold cell measures loading one from the sidecar.
    await server.child.call('materialize', { entity: ENTITY, ids: coldIds }, 60_000);
    const target = (rowId: string, url: string): CrdtTarget => ({ url: `${url.replace('http:', 'ws:')}/ws`, token: TOKEN, entity: ENTITY, rowId, field: FIELD });
    try {
      const count = Math.max(5, Math.round(KEYS_PER_SEC * context.durationSec));
      const params: TypeParams = { ...target(bigId, server.origin), subscribers: SUBSCRIBERS, ratePerSec: KEYS_PER_SEC, count };
      context.log(`crdt: ${SUBSCRIBERS} subscribers on a ${BIG_CHARS}-character row, ${count} keystrokes at ${KEYS_PER_SEC}/s`);
      await clients.call('open', params, 60_000);
      const head = (await changeRowBytes(server.origin, 0)).head;
      const cpuBefore = cpuSeconds(server.child.pid);
      const writtenBefore = writtenBytes(server.child.pid);
      const { value, foreignCpuPct } = await withForeignCpu(
        () => [process.pid, clients.pid, server.child.pid],
        () => clients.call<TypeResult>('type', null, count * 1000 + 90_000),
      );
      const writtenDuring = writtenBytes(server.child.pid) - writtenBefore;
      typed = { ...value, serverCpuMsPerUpdate: Math.round(((cpuSeconds(server.child.pid) - cpuBefore) * 1000 * 100) / Math.max(1, value.keystrokes)) / 100, foreignCpuPct };
      const keys = Math.max(1, value.keystrokes);
      const socketBytes = SUBSCRIBERS * (value.bytesPerKeystrokePerSubscriber + 4) * keys;
      const log = await changeRowBytes(server.origin, head);
      written = {
        diskBytesPerKeystroke: Math.round((writtenDuring - socketBytes) / keys),
        socketBytesPerKeystroke: Math.round(socketBytes / keys),
        changeLogRowBytes: Math.round(log.bytes / Math.max(1, log.entries)),
        snapshotBytes: value.snapshotFrameBytesAfter - 5 - ENTITY.length - bigId.length,
      };
      context.log(
        `  server wrote ${written.diskBytesPerKeystroke} B to disk per keystroke (change-log row image ${written.changeLogRowBytes} B, twice; snapshot ${written.snapshotBytes} B)`,
      );
      context.log(
        `  ${typed.bytesPerKeystrokePerSubscriber} B per keystroke per subscriber (snapshot ${typed.snapshotFrameBytesAfter} B); push→receipt p99 ${typed.pushToReceiptMs.p99} ms; server CPU ${typed.serverCpuMsPerUpdate} ms per update`,
      );
    } catch (err) {
      failures['keystrokes'] = message(err);
      context.log(`  keystrokes FAILED: ${failures['keystrokes']}`);
    }
    try {
      await server.child.stop();
      server = await startServer(dir, dbPath);
      children.push(server.child);
      const coldMs: number[] = [];
      const warmMs: number[] = [];
      let bytes = 0;
      for (const id of coldIds) {
        const first = await clients.call<{ ms: number; snapshotFrameBytes: number }>('subscribeOnce', target(id, server.origin), 40_000);
        const second = await clients.call<{ ms: number }>('subscribeOnce', target(id, server.origin), 40_000);
        coldMs.push(first.ms);
        warmMs.push(second.ms);
        bytes = first.snapshotFrameBytes;
      }
      cold = {
        rows: coldIds.length,
        snapshotFrameBytes: bytes,
        coldSubscribeMsMedian: median(coldMs),
        warmSubscribeMsMedian: median(warmMs),
        coldMinusWarmMsMedian: median(coldMs.map((ms, i) => ms - warmMs[i]!)),
      };
      context.log(
        `  cold load of ${bytes} B snapshots: subscribe ${cold.coldSubscribeMsMedian} ms cold, ${cold.warmSubscribeMsMedian} ms warm (medians over ${coldIds.length} rows)`,
      );
    } catch (err) {
      failures['cold load'] = message(err);
      context.log(`  cold load FAILED: ${failures['cold load']}`);
    }
    try {
      context.log(`crdt: ${cacheRows} rows touched once with the document cache capped at ${mib(CACHE_CAP_BYTES)} MiB`);
      cache = await cacheCell(dir, cacheRows, !context.full, children, context.log);
    } catch (err) {
      failures['cache'] = message(err);
      context.log(`  cache FAILED: ${failures['cache']}`);
    }
  } finally {
    for (const child of children.reverse()) await child.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }

  const measurement = (completed: number, latency: { p50: number; p90: number; p99: number; max: number }, errors: number, foreignCpuPct: number | null): Measurement => ({
    completed,
    seconds: context.durationSec,
    rps: Math.round(completed / context.durationSec),
    latencyMs: latency,
    errors,
    non2xx: 0,
    foreignCpuPct,
  });
  const typingErrors = typed ? typed.errors.length + (typed.converged ? 0 : 1) + (typed.framesPerSubscriber.min === typed.keystrokes ? 0 : 1) : 0;
  rows.push({
    op: 'keystrokes',
    concurrency: SUBSCRIBERS,
    results: typed
      ? {
          mast: {
            ...typed,
            ...(written ? { writeAmplification: written } : {}),
            errorMessages: typed.errors,
            ...measurement(typed.keystrokes, typed.pushToReceiptMs, typingErrors, typed.foreignCpuPct),
          } as Measurement,
        }
      : {},
    ratios: { snapshotVsUpdateBytes: typed && typed.bytesPerKeystrokePerSubscriber > 0 ? Math.round(typed.snapshotFrameBytesAfter / typed.bytesPerKeystrokePerSubscriber) : null },
    ...(failures['keystrokes'] ? { failure: failures['keystrokes'] } : typed ? {} : { failure: 'not run' }),
  });
  rows.push({
    op: 'cold load',
    concurrency: 1,
    results: cold ? { mast: { ...cold, ...measurement(cold.rows, { p50: cold.coldSubscribeMsMedian, p90: 0, p99: 0, max: 0 }, 0, null) } as Measurement } : {},
    ratios: {},
    ...(failures['cold load'] ? { failure: failures['cold load'] } : cold ? {} : { failure: 'not run' }),
  });
  rows.push({
    op: 'cache',
    concurrency: 1,
    results: cache
      ? {
          capped: { ...cache.capped, ...measurement(cache.rows, { p50: 0, p90: 0, p99: 0, max: 0 }, 0, null) } as Measurement,
          noCache: { ...cache.noCache, ...measurement(cache.rows, { p50: 0, p90: 0, p99: 0, max: 0 }, 0, null) } as Measurement,
          ...(cache.uncapped ? { uncapped: { ...cache.uncapped, ...measurement(cache.rows, { p50: 0, p90: 0, p99: 0, max: 0 }, 0, null) } as Measurement } : {}),
        }
      : {},
    ratios: {
      uncappedVsCappedRssGrowth: cache?.uncapped && cache.capped.rssGrowthBytes > 0 ? Math.round((cache.uncapped.rssGrowthBytes / cache.capped.rssGrowthBytes) * 10) / 10 : null,
    },
    ...(failures['cache'] ? { failure: failures['cache'] } : cache ? {} : { failure: 'not run' }),
  });
  const checks: Check[] = [
    {
      name: `RSS growth with the cache capped at ${mib(CACHE_CAP_BYTES)} MiB minus the growth with no cache, ${cacheRows} rows touched once, < the cap (MiB)`,
      pass: cache !== null && cache.capped.rssGrowthBytes - cache.noCache.rssGrowthBytes < CACHE_CAP_BYTES,
      value: cache ? mib(cache.capped.rssGrowthBytes - cache.noCache.rssGrowthBytes) : null,
      limit: mib(CACHE_CAP_BYTES),
    },
    {
      name: `RSS growth from the first fifth of the rows to all of them < a tenth of the cap (MiB): memory does not grow with rows touched`,
      pass: cache !== null && cache.capped.rssAfterBytes - cache.capped.rssAtFifthBytes < CACHE_CAP_BYTES / 10,
      value: cache ? mib(cache.capped.rssAfterBytes - cache.capped.rssAtFifthBytes) : null,
      limit: mib(CACHE_CAP_BYTES / 10),
    },
    {
      name: `bytes per keystroke per subscriber < ${BYTES_TARGET}`,
      pass: typed !== null && typed.bytesPerKeystrokePerSubscriber < BYTES_TARGET,
      value: typed?.bytesPerKeystrokePerSubscriber ?? null,
      limit: BYTES_TARGET,
    },
    {
      name: `cold load of a ~10 KB snapshot < ${COLD_TARGET_MS} ms (cold minus warm subscribe, median)`,
      pass: cold !== null && cold.coldMinusWarmMsMedian < COLD_TARGET_MS,
      value: cold?.coldMinusWarmMsMedian ?? null,
      limit: COLD_TARGET_MS,
    },
  ];
  const cell = (value: number | string | undefined | null): string => (value === undefined || value === null ? '—' : String(value));
  return {
    scenario: 'crdt',
    description: crdtScenario.description,
    setup: {
      entity: ENTITY,
      field: `${FIELD} (richtext)`,
      bigRowChars: BIG_CHARS,
      subscribers: SUBSCRIBERS,
      keystrokesPerSec: KEYS_PER_SEC,
      keystroke: 'one character inserted mid-text in the writer\'s Loro doc, pushed as a 0x11 frame of doc.export({mode:"update", from})',
      coldRows: `${COLD_ROWS} rows of ${COLD_CHARS} characters, subscribed after a server restart`,
      cacheCell: `${cacheRows} rows of ${CACHE_CHARS} characters created in batches of ${BATCH} on a server with MAST_CRDT_CACHE_BYTES=${CACHE_CAP_BYTES}, then after a restart each updated once (loaded from the sidecar, changed, saved); RSS after a forced GC before and after; the same pass with a cache that keeps nothing (the baseline: what the process adds besides cached documents) and with one that holds every row (not with --full)`,
      serverConfig: { ...SERVER_CONFIG, adminToken: '(set)', logLevel: 'silent' },
    },
    rows,
    checks,
    table: {
      columns: ['measure', 'value'],
      rows: [
        ['keystrokes pushed', cell(typed?.keystrokes)],
        ['0x11 frames per subscriber (min–max)', typed ? `${typed.framesPerSubscriber.min}–${typed.framesPerSubscriber.max}` : '—'],
        ['bytes per keystroke per subscriber', cell(typed?.bytesPerKeystrokePerSubscriber)],
        ['push frame bytes (writer → server)', cell(typed?.pushFrameBytes)],
        ['full snapshot frame bytes before / after typing (Pylon sends this per write)', typed ? `${typed.snapshotFrameBytesBefore} / ${typed.snapshotFrameBytesAfter}` : '—'],
        ['push → each receipt p50 / p99 / max ms', typed ? `${typed.pushToReceiptMs.p50} / ${typed.pushToReceiptMs.p99} / ${typed.pushToReceiptMs.max}` : '—'],
        ['push → last of 10 receipts p50 / p99 ms', typed ? `${typed.pushToLastReceiptMs.p50} / ${typed.pushToLastReceiptMs.p99}` : '—'],
        ['server CPU ms per update', cell(typed?.serverCpuMsPerUpdate)],
        ['all copies converged', typed ? String(typed.converged) : '—'],
        ['other CPU % (typing)', cell(typed?.foreignCpuPct)],
        ['cold-load snapshot frame bytes', cell(cold?.snapshotFrameBytes)],
        ['subscribe → snapshot, cold / warm ms (median)', cold ? `${cold.coldSubscribeMsMedian} / ${cold.warmSubscribeMsMedian}` : '—'],
        ['cold minus warm ms (median per row)', cell(cold?.coldMinusWarmMsMedian)],
        ['bytes written to disk per keystroke (server write(2) bytes minus socket bytes)', cell(written?.diskBytesPerKeystroke)],
        ['change-log row image bytes (data and before, each) / snapshot bytes, rewritten per keystroke', written ? `${written.changeLogRowBytes} / ${written.snapshotBytes}` : '—'],
        [`rows touched once (cache cell)`, cell(cache?.rows)],
        [
          'RSS growth, cache capped / keeping nothing / uncapped (MiB)',
          cache ? `${mib(cache.capped.rssGrowthBytes)} / ${mib(cache.noCache.rssGrowthBytes)} / ${cache.uncapped ? mib(cache.uncapped.rssGrowthBytes) : '—'}` : '—',
        ],
        [
          'RSS before → after a fifth → after all rows, capped (MiB)',
          cache ? `${mib(cache.capped.rssBeforeBytes)} → ${mib(cache.capped.rssAtFifthBytes)} → ${mib(cache.capped.rssAfterBytes)}` : '—',
        ],
        [
          'touch pass seconds, capped / keeping nothing / uncapped',
          cache ? `${cache.capped.touchSeconds} / ${cache.noCache.touchSeconds} / ${cache.uncapped?.touchSeconds ?? '—'}` : '—',
        ],
      ],
      notes: [
        "Times are on the machine-wide monotonic clock. Server CPU per update is all the server process's CPU during the typing window (after every socket has its snapshot) (receiving, merging, persisting, projecting, encoding and sending to 10 subscribers) divided by the keystrokes, at 10 ms tick resolution. The cold load is measured over a WebSocket: the first subscribe to a row after a restart reads its snapshot from the sidecar and imports it; the second is served from the cache; their difference is the estimate.",
        'Bytes written per keystroke: all bytes the server process passed to write(2) during typing (/proc/<pid>/io wchar: SQLite WAL and checkpoints, and sockets) minus the bytes the subscribers received plus 4 bytes of WebSocket header per frame. The RSS of the cache cell is read after three forced GCs; the WASM heap never shrinks, so it holds the peak of the documents alive at once.',
      ],
    },
  };
}

/** The CRDT scenario. */
export const crdtScenario: Scenario = {
  name: 'crdt',
  description:
    '10 subscribers on a 50,000-character richtext row while one client types 20 characters/s as 0x11 pushes: bytes per keystroke per subscriber against the full snapshot, push-to-receipt time, server CPU per update; cold load of 10 KB snapshots after a restart; bytes written per keystroke; RSS of many rows touched once with the document cache capped, against an uncapped cache',
  run,
  withoutPylon:
    "Pylon 0.11.3 is not run here: it has no CRDT deltas. On every push it sends each subscriber the row's whole Loro snapshot (0x10) and a JSON change event carrying the whole row (the anchor's REPORT.md section 4.5 measured 103,401 bytes per keystroke per subscriber on a 50,000-character row). The 'full snapshot' figure above is the size of that snapshot as Mast encodes it, measured in this run.",
};
