/**
 * `fanout`: N WebSocket subscribers on one shared live query and on N distinct ones (each on
 * its own equality value), a writer PATCHing rows at 100 and 1,000 writes/s over HTTP, and the
 * latency from each write's response to each subscriber's diff, delivery completeness, the
 * server's event-loop delay and its RSS per idle socket. The baseline is a bare `ws` server
 * that sends one encoded frame per write to the sockets of the row's topic, measured with the
 * same clients and writer in the same run. Every side runs in its own child process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '@mast/schema';
import type { MastConfig } from '@mast/server';
import type { Check, Measurement, ResultRow, Scenario, ScenarioContext, ScenarioResult } from '../scenario.js';
import { startChild, type BenchChild } from '../harness/child-process.js';
import { withForeignCpu } from '../harness/cpu-monitor.js';
import { DeliveryHistogram, monotonicMs, type DeliveryLatency } from '../harness/delivery-histogram.js';
import type { CollectResult, ConnectParams } from '../harness/fanout-client-process.js';
import type { FanoutServerParams, FanoutServerStarted, LoopDelay } from '../harness/fanout-server-process.js';
import { PYLON_VERSION } from '../harness/pylon.js';
import type { WriterParams, WriterResult } from '../harness/fanout-writer-process.js';
import { seedDatabase } from '../harness/seed-database.js';
import { waitForHealth } from '../harness/wait-for-health.js';

const ENTITY = 'Msg';
const MODES = ['shared', 'distinct'] as const;
type Mode = (typeof MODES)[number];
/** `pylon` runs only with `--against pylon` (and not at 10,000 sockets; see pylonNotes). */
const TARGETS = ['floor', 'baseline', 'mast', 'pylon'] as const;
type Target = (typeof TARGETS)[number];
const RATES = [100, 1000] as const;
/** Client processes holding the sockets; with the writer and the server that is 5 processes on 2 cores. */
const CLIENT_PROCESSES = 3;
const CONNECT_BATCH = 100;
/**
 * Deliveries (subscribers x writes) one cell may ask for: 10,000 subscribers on one query at
 * 1,000 writes/s would otherwise queue gigabytes in the server. Cells over it write fewer times.
 */
const MAX_DELIVERIES_PER_CELL = 1_000_000;
/** A cell starts once no diff has arrived for this long (the previous cell's backlog has drained). */
const QUIET_MS = 300;
const MAX_DRAIN_MS = 60_000;
/** Bytes per idle socket the issue allows. */
const RSS_TARGET_BYTES = 10 * 1024;

/** One entity, not CRDT-backed (this measures live queries, not Loro), indexed on the filtered field. */
const MANIFEST: Manifest = {
  manifest_version: 1,
  name: 'bench-fanout',
  version: '1.0.0',
  entities: [
    {
      name: ENTITY,
      crdt: false,
      fields: [
        { name: 'topic', type: 'int', optional: false, unique: false },
        { name: 'n', type: 'int', optional: false, unique: false },
      ],
      indexes: [{ name: 'by_topic', fields: ['topic'], unique: false }],
    },
  ],
  routes: [],
  policies: [{ name: 'bench_open', entity: ENTITY, allow: 'true' }],
};

/** Server settings that differ from the defaults, and why. */
const SERVER_CONFIG: Partial<MastConfig> = {
  // One address sends every write and opens every socket.
  rateLimit: 0,
  wsMaxSocketsPerIp: 20_000,
  maxConnections: 25_000,
};

function seedId(index: number): string {
  return (0x1800000000000000n + BigInt(index)).toString(16).padStart(32, '0') + '00000000';
}

/** One cell as measured against one target. */
export interface FanoutMeasurement extends Measurement {
  /** Writes per second asked for, and what the writer achieved. */
  readonly writesPerSec: number;
  readonly writer: Omit<WriterResult, 'writes'> & { readonly count: number };
  /** (subscriber, matching write) pairs, and how many a diff covered; diffs may cover several writes. */
  readonly expected: number;
  readonly delivered: number;
  readonly duplicates: number;
  readonly frames: number;
  readonly closedByServer: Readonly<Record<string, number>>;
  /** From the write's HTTP response to the diff's receipt (negative: the diff came first). */
  readonly deliveryMs: DeliveryLatency;
  /** From sending the write request to the diff's receipt. */
  readonly fromRequestMs: DeliveryLatency;
  readonly loopDelayMs: LoopDelay;
  /** CPU over the cell, in % of one core: the server, the busiest client process, all client processes, the writer. */
  readonly serverCpuPct: number;
  readonly clientCpuMaxPct: number;
  readonly clientCpuTotalPct: number;
  readonly writerCpuPct: number;
  /** Server RSS after GC with the subscribers connected minus before any, per socket. */
  readonly rssPerSocketBytes: number;
}

/** CPU seconds (utime + stime) of a process so far; 0 where /proc is missing. */
function cpuSeconds(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

interface Group {
  readonly mode: Mode;
  readonly subscribers: number;
}

interface Rig {
  readonly clients: readonly BenchChild[];
  readonly writer: BenchChild;
  readonly pids: () => readonly number[];
}

/** Writes `count` writes at `rate` and collects what every client received. */
async function measureCell(
  rig: Rig,
  server: BenchChild,
  serverPid: number,
  origin: string,
  rows: WriterParams['rows'],
  rate: number,
  count: number,
  waitMs: number,
  rssPerSocketBytes: number,
): Promise<FanoutMeasurement> {
  const quiet = await Promise.all(rig.clients.map((c) => c.call<boolean>('quiet', { idleMs: QUIET_MS, maxMs: MAX_DRAIN_MS }, MAX_DRAIN_MS + 10_000)));
  if (quiet.includes(false)) throw new Error(`diffs of an earlier cell were still arriving after ${MAX_DRAIN_MS / 1000} s`);
  await Promise.all(rig.clients.map((c) => c.call('reset', null, 10_000)));
  await server.call('loopStart', null, 10_000);
  const measuredPids = [serverPid, rig.writer.pid, ...rig.clients.map((c) => c.pid)];
  const cpuBefore = measuredPids.map(cpuSeconds);
  const started = monotonicMs();
  const { value, foreignCpuPct } = await withForeignCpu(
    () => [...rig.pids(), server.pid, serverPid],
    async () => {
      const params: WriterParams = { origin, entity: ENTITY, rows, ratePerSec: rate, count };
      const written = await rig.writer.call<WriterResult>('run', params, (count / rate) * 1000 + 60_000);
      const collected = await Promise.all(rig.clients.map((c) => c.call<CollectResult>('collect', { writes: written.writes, waitMs }, waitMs + 30_000)));
      return { written, collected };
    },
  );
  const seconds = (monotonicMs() - started) / 1000;
  const loopDelayMs = await server.call<LoopDelay>('loopStop', null, 10_000);
  const cpuPct = measuredPids.map((pid, i) => Math.round(((cpuSeconds(pid) - cpuBefore[i]!) / seconds) * 100));
  const { written, collected } = value;
  const delivery = new DeliveryHistogram();
  const fromRequest = new DeliveryHistogram();
  const closedByServer: Record<string, number> = {};
  for (const c of collected) {
    delivery.merge(c.fromResponse);
    fromRequest.merge(c.fromRequest);
    for (const [code, n] of Object.entries(c.closed)) closedByServer[code] = (closedByServer[code] ?? 0) + n;
  }
  const sum = (f: (c: CollectResult) => number): number => collected.reduce((total, c) => total + f(c), 0);
  const [expected, delivered, duplicates, frames] = [sum((c) => c.expected), sum((c) => c.delivered), sum((c) => c.duplicates), sum((c) => c.frames)];
  const deliveryMs = delivery.summary();
  const { writes: _writes, ...rest } = written;
  const writer = { ...rest, count };
  const closedCount = Object.values(closedByServer).reduce((a, b) => a + b, 0);
  return {
    completed: delivered,
    seconds: Math.round(seconds * 1000) / 1000,
    rps: Math.round(delivered / seconds),
    latencyMs: { p50: deliveryMs.p50, p90: deliveryMs.p90, p99: deliveryMs.p99, max: deliveryMs.max },
    errors: expected - delivered + duplicates + closedCount + written.errors,
    non2xx: written.non2xx,
    foreignCpuPct,
    writesPerSec: rate,
    writer,
    expected,
    delivered,
    duplicates,
    frames,
    closedByServer,
    deliveryMs,
    fromRequestMs: fromRequest.summary(),
    loopDelayMs,
    serverCpuPct: cpuPct[0]!,
    clientCpuMaxPct: Math.max(...cpuPct.slice(2)),
    clientCpuTotalPct: cpuPct.slice(2).reduce((a, b) => a + b, 0),
    writerCpuPct: cpuPct[1]!,
    rssPerSocketBytes,
  };
}

type CellKey = string;
const cellKey = (mode: Mode, subscribers: number, op: string): CellKey => `${mode}|${subscribers}|${op}`;

/** Runs every cell of one group (mode, subscriber count) against one target. */
async function runGroup(
  context: ScenarioContext,
  rig: Rig,
  dir: string,
  group: Group,
  target: Target,
  into: Map<CellKey, Partial<Record<Target, FanoutMeasurement | string>>>,
): Promise<void> {
  const { mode, subscribers } = group;
  const rows = Array.from({ length: mode === 'shared' ? 1 : subscribers }, (_, i) => ({ id: seedId(i), topic: i }));
  const ops = [...RATES.map((rate) => `${rate} w/s`), ...(mode === 'shared' ? ['1 write'] : [])];
  const label = `${target} ${mode} ${subscribers}`;
  let server: BenchChild | null = null;
  try {
    let params: FanoutServerParams;
    if (target === 'mast') {
      const dbPath = join(dir, `${mode}-${subscribers}.db`);
      await seedDatabase(dbPath, MANIFEST, ENTITY, rows.length, (i) => ({ id: seedId(i), topic: i, n: 0 }));
      params = { kind: 'mast', appDir: dir, manifest: MANIFEST, config: { ...SERVER_CONFIG, databaseUrl: dbPath } };
    } else if (target === 'pylon') params = { kind: 'pylon', manifest: MANIFEST, entity: ENTITY, rows };
    else params = { kind: 'baseline', entity: ENTITY, rows, raw: target === 'floor' };
    const profile = context.cpuProfileDir && target === 'mast' ? ['--cpu-prof', `--cpu-prof-dir=${context.cpuProfileDir}`] : [];
    server = await startChild(new URL('../harness/fanout-server-process.ts', import.meta.url), `${target} server`, ['--expose-gc', ...profile]);
    const started = await server.call<FanoutServerStarted>('start', params, 120_000);
    const port = started.port;
    const serverPid = started.pid ?? server.pid;
    const origin = `http://127.0.0.1:${port}`;
    if (target === 'mast') await waitForHealth(origin);
    const rssBefore = (await server.call<{ rss: number }>('rss', null, 10_000)).rss;
    const share = (c: number): number[] => Array.from({ length: subscribers }, (_, i) => (mode === 'shared' ? 0 : i)).filter((_, i) => i % rig.clients.length === c);
    const pylonClient = target === 'pylon' ? { protocol: 'pylon' as const } : {};
    await Promise.all(
      rig.clients.map((client, c) =>
        client.call(
          'connect',
          {
            url: started.wsUrl ?? `ws://127.0.0.1:${port}/ws`,
            entity: ENTITY,
            topics: share(c),
            batch: CONNECT_BATCH,
            ...pylonClient,
            addressBase: `127.${c + 1}.0`,
          } satisfies ConnectParams,
          180_000,
        ),
      ),
    );
    const rssPerSocketBytes = Math.round(((await server.call<{ rss: number }>('rss', null, 10_000)).rss - rssBefore) / subscribers);
    const waitMs = 30_000; // collect returns as soon as every socket has its last diff
    context.log(`  ${label.padEnd(22)} connected; RSS per idle socket ${(rssPerSocketBytes / 1024).toFixed(1)} KB`);
    // Warm-up: the same path at the low rate, not recorded.
    await measureCell(rig, server, serverPid, origin, rows, RATES[0], Math.max(1, Math.round(RATES[0] * context.warmupSec)), waitMs, rssPerSocketBytes);
    for (const op of ops) {
      const rate = op === '1 write' ? 1 : Number.parseInt(op, 10);
      const perWrite = mode === 'shared' ? subscribers : 1;
      const count = op === '1 write' ? 1 : Math.max(1, Math.min(Math.round(rate * context.durationSec), Math.floor(MAX_DELIVERIES_PER_CELL / perWrite)));
      const m = await measureCell(rig, server, serverPid, origin, rows, rate, count, waitMs, rssPerSocketBytes);
      const entry = into.get(cellKey(mode, subscribers, op)) ?? {};
      entry[target] = m;
      into.set(cellKey(mode, subscribers, op), entry);
      const other = m.foreignCpuPct === null || m.foreignCpuPct === undefined ? '' : `  other CPU ${m.foreignCpuPct}%`;
      context.log(
        `  ${label.padEnd(22)} ${op.padEnd(9)} p50 ${m.deliveryMs.p50} p99 ${m.deliveryMs.p99} max ${m.deliveryMs.max} ms  delivered ${m.delivered}/${m.expected}  loop p99 ${m.loopDelayMs.p99} ms${other}`,
      );
    }
    await Promise.all(rig.clients.map((c) => c.call('disconnect', null, 60_000)));
  } catch (err) {
    const error = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    context.log(`  ${label} FAILED: ${error}`);
    for (const op of ops) {
      const entry = into.get(cellKey(mode, subscribers, op)) ?? {};
      entry[target] ??= error;
      into.set(cellKey(mode, subscribers, op), entry);
    }
    await Promise.all(rig.clients.map((c) => c.call('disconnect', null, 60_000).catch(() => undefined)));
  } finally {
    await server?.stop().catch(() => undefined);
  }
}

async function run(context: ScenarioContext): Promise<ScenarioResult> {
  const sizes = context.sizes ?? (context.full ? [100, 1000, 10_000] : context.quick ? [100] : [100, 1000]);
  const dir = mkdtempSync(join(tmpdir(), 'mast-bench-fanout-'));
  const children: BenchChild[] = [];
  const cells = new Map<CellKey, Partial<Record<Target, FanoutMeasurement | string>>>();
  const order: { group: Group; op: string }[] = [];
  try {
    for (let i = 0; i < CLIENT_PROCESSES; i++) children.push(await startChild(new URL('../harness/fanout-client-process.ts', import.meta.url), `subscribers ${i + 1}`));
    const writer = await startChild(new URL('../harness/fanout-writer-process.ts', import.meta.url), 'writer');
    children.push(writer);
    const rig: Rig = { clients: children.slice(0, CLIENT_PROCESSES), writer, pids: () => [process.pid, ...children.map((c) => c.pid)] };
    for (const mode of MODES) {
      for (const subscribers of sizes) {
        const group = { mode, subscribers };
        for (const op of [...RATES.map((rate) => `${rate} w/s`), ...(mode === 'shared' ? ['1 write'] : [])]) order.push({ group, op });
        context.log(`fanout: ${mode} query, ${subscribers} subscribers`);
        for (const target of targetsFor(context, subscribers)) await runGroup(context, rig, dir, group, target, cells);
      }
    }
  } finally {
    for (const child of children.reverse()) await child.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  // Pylon's failures are reported in the notes; they do not make the run fail.
  const pylonFailures = new Set<string>();
  const rows: ResultRow[] = order.map(({ group, op }) => {
    const entry = cells.get(cellKey(group.mode, group.subscribers, op)) ?? {};
    const results: Record<string, FanoutMeasurement> = {};
    const failures: string[] = [];
    for (const target of targetsFor(context, group.subscribers)) {
      const value = entry[target];
      if (typeof value === 'object') results[target] = value;
      else if (target === 'pylon') pylonFailures.add(`${group.mode} ${group.subscribers}: ${value ?? 'not run'}`);
      else failures.push(`${target}: ${value ?? 'not run'}`);
    }
    const [m, b, p, f] = [results['mast'], results['baseline'], results['pylon'], results['floor']];
    return {
      op: `${group.mode} ${op}`,
      concurrency: group.subscribers,
      results,
      ratios: {
        p99MastVsBaseline: m && b && b.deliveryMs.p99 > 0 ? Math.round((m.deliveryMs.p99 / b.deliveryMs.p99) * 100) / 100 : null,
        p99MastVsFloor: m && f && f.deliveryMs.p99 > 0 ? Math.round((m.deliveryMs.p99 / f.deliveryMs.p99) * 100) / 100 : null,
        ...(context.against === 'pylon' ? { p99MastVsPylon: m && p && p.deliveryMs.p99 > 0 ? Math.round((m.deliveryMs.p99 / p.deliveryMs.p99) * 100) / 100 : null } : {}),
      },
      ...(failures.length > 0 ? { failure: failures.join('; ') } : {}),
    };
  });
  return {
    scenario: 'fanout',
    description: fanoutScenario.description,
    setup: {
      entity: ENTITY,
      crdt: false,
      subscribers: sizes,
      modes: {
        shared: 'every socket subscribes to {"topic":0}; every write PATCHes that one row',
        distinct: 'socket i subscribes to {"topic":i}; write k PATCHes the row of topic k mod N',
      },
      write: `PATCH /api/entities/${ENTITY}/<id> {"n":<a value never written before>}, open loop at the rate, at most 64 in flight`,
      clientProcesses: CLIENT_PROCESSES,
      writesPerCell: `rate x duration, capped so subscribers x writes <= ${MAX_DELIVERIES_PER_CELL} (see each cell's writer.count / expected); each cell starts once no diff has arrived for ${QUIET_MS} ms`,
      clock: 'CLOCK_MONOTONIC (process.hrtime), shared by every process on the machine',
      latencyResolution: '0.01 ms below 100 ms, 1 ms above',
      serverConfig: { ...SERVER_CONFIG, logLevel: 'silent', databaseUrl: 'fresh temporary SQLite file per group' },
      baseline: 'bare ws server: a PATCH bumps a counter, answers {"updated":true,"seq":N}, encodes one diff-shaped frame and sends that buffer to each socket of the row\'s topic',
      floor:
        'the same bare server, but the WebSocket frame is built once and written with one socket.write per socket (no ws.send): about the least a Node.js process can do per subscriber, one write system call each',
    },
    rows,
    checks: buildChecks(rows),
    table: fanoutTable(rows),
    ...(context.against === 'pylon' ? { notes: [...pylonNotes(sizes), ...[...pylonFailures].map((f) => `Pylon failed (${f}).`)] } : {}),
  };
}

/** Pylon runs where it can hold the sockets: 2 threads per socket make 10,000 sockets 20,000 threads. */
const PYLON_MAX_SUBSCRIBERS = 1000;

/** The servers a group runs on. */
function targetsFor(context: ScenarioContext, subscribers: number): Target[] {
  return TARGETS.filter((t) => t !== 'pylon' || (context.against === 'pylon' && subscribers <= PYLON_MAX_SUBSCRIBERS));
}

/** How Pylon's fan-out differs from what the Mast rows measure. */
function pylonNotes(sizes: readonly number[]): string[] {
  return [
    `Pylon ${PYLON_VERSION} (rows \`pylon\`) has no server-side live query: it pushes every change event to every socket allowed to read the entity, and its clients evaluate their queries locally. So its sockets send no subscribe message, each one receives every write (in \`distinct\` cells, N-1 of every N frames are for other rows and are dropped by the client; \`frames\` counts only the socket's own), and the comparison is that broadcast against Mast's per-query diffs. It ran from the anchor's serve.sh on the same manifest (Msg with crdt: false), seeded through its admin /api/batch, with its WebSocket on its HTTP port + 1, at most 60 sockets per client address (it resets more than 64), and the same writer (whose 64 writes in flight exceed Pylon's 32-request admission cap: the 503s show as non-2xx).`,
    `Pylon has no event loop: its \`loop\` columns are 0. Its \`dup\` counts change events that reached a socket with a seq not above the previous one there: under load its sharded WebSocket writers deliver a row's events out of order. Its \`RSS/socket\` is its process RSS growth per connected socket (about 2 threads per socket).${sizes.some((n) => n > PYLON_MAX_SUBSCRIBERS) ? ` It is not run with more than ${PYLON_MAX_SUBSCRIBERS.toLocaleString('en-US')} subscribers (10,000 sockets would be 20,000 threads on this shared machine).` : ''}`,
  ];
}

function measured(rows: readonly ResultRow[], op: string, subscribers: number): FanoutMeasurement | undefined {
  return rows.find((r) => r.op === op && r.concurrency === subscribers)?.results['mast'] as FanoutMeasurement | undefined;
}

/** The issue's targets, checked where the cell was run (10,000 subscribers only with --full). */
function buildChecks(rows: readonly ResultRow[]): Check[] {
  const checks: Check[] = [];
  for (const mode of MODES) {
    const m = measured(rows, `${mode} 100 w/s`, 1000);
    // Met only when the server also kept up with the writes: a server that answers writes late
    // shortens the response-to-diff time it is measured by.
    const keptUp = m !== undefined && m.writer.achievedPerSec >= 0.9 * m.writesPerSec;
    checks.push({
      name: `1,000 subscribers, ${mode} query, 100 writes/s (and >= 90 achieved): delivery p99 < 25 ms`,
      pass: keptUp && m.deliveryMs.p99 < 25 && m.errors === 0,
      value: m?.deliveryMs.p99 ?? null,
      limit: 25,
    });
  }
  const one = measured(rows, 'shared 1 write', 10_000);
  if (rows.some((r) => r.concurrency === 10_000)) {
    checks.push({
      name: '10,000 subscribers, one query, one write: last delivery < 100 ms',
      pass: one !== undefined && one.deliveryMs.max < 100 && one.errors === 0,
      value: one?.deliveryMs.max ?? null,
      limit: 100,
    });
  }
  const largest = Math.max(...rows.map((r) => r.concurrency));
  for (const mode of MODES) {
    const m = measured(rows, `${mode} 100 w/s`, largest);
    const kb = m ? Math.round((m.rssPerSocketBytes / 1024) * 10) / 10 : null;
    checks.push({
      name: `${largest} idle subscribed sockets, ${mode} query: server RSS per socket < 10 KB`,
      pass: m !== undefined && m.rssPerSocketBytes < RSS_TARGET_BYTES,
      value: kb,
      limit: 10,
    });
  }
  return checks;
}

const COLUMNS = [
  'cell',
  'subs',
  'target',
  'writes/s',
  'p50 ms',
  'p95 ms',
  'p99 ms',
  'max ms',
  'req→diff p50',
  'req→diff p99',
  'delivered',
  'frames',
  'dup/closed',
  'loop p99 ms',
  'loop max ms',
  'server CPU %',
  'client CPU % max',
  'clients CPU % sum',
  'writer CPU %',
  'RSS/socket KB',
  'other CPU %',
];

function fanoutTable(rows: readonly ResultRow[]): NonNullable<ScenarioResult['table']> {
  const body: string[][] = [];
  for (const row of rows) {
    for (const target of TARGETS) {
      const m = row.results[target] as FanoutMeasurement | undefined;
      if (!m) continue;
      const closed = Object.values(m.closedByServer).reduce((a, b) => a + b, 0);
      body.push([
        row.op,
        String(row.concurrency),
        target,
        `${m.writer.achievedPerSec}`,
        m.deliveryMs.p50.toFixed(2),
        m.deliveryMs.p95.toFixed(2),
        m.deliveryMs.p99.toFixed(2),
        m.deliveryMs.max.toFixed(1),
        m.fromRequestMs.p50.toFixed(2),
        m.fromRequestMs.p99.toFixed(2),
        `${m.delivered}/${m.expected}`,
        String(m.frames),
        `${m.duplicates}/${closed}`,
        m.loopDelayMs.p99.toFixed(1),
        m.loopDelayMs.max.toFixed(1),
        String(m.serverCpuPct),
        String(m.clientCpuMaxPct),
        String(m.clientCpuTotalPct),
        String(m.writerCpuPct),
        (m.rssPerSocketBytes / 1024).toFixed(1),
        m.foreignCpuPct === null || m.foreignCpuPct === undefined ? '—' : m.foreignCpuPct.toFixed(0),
      ]);
    }
  }
  return {
    columns: COLUMNS,
    rows: body,
    notes: [
      "How to read it: `p50`…`max` are from the write's HTTP response (as the writer saw it) to each subscriber's receipt of a diff whose seq covers the write, over every (subscriber, matching write) pair, on the machine-wide monotonic clock. Subscribers often have a Mast diff before the writer has the write's response, so these can be negative. `req→diff` is from sending the write request instead (it includes the write's own HTTP round trip). `delivered` is pairs covered out of pairs expected (a diff carries every change up to its seq, so one diff can cover several writes; `frames` is diffs received). `dup/closed`: diffs with a seq not above the previous one on the socket, and sockets the server closed. `loop` is the server's event-loop delay over the cell (1 ms resolution). CPU columns are % of one core over the cell (writes plus the wait for the last delivery); `client CPU % max` near 100 means the subscribers, not the server, set the pace, and server + clients sum + writer near 200 means the 2 cores are full. `RSS/socket KB`: server RSS after GC with the subscribers connected and subscribed, minus before any, per socket. `1 write`: one write on a quiet server; its `max` is the last delivery.",
      `Both targets share one writer and three subscriber processes with the server on 2 cores; at 1,000 writes/s on a shared query, 1,000 subscribers are a million frames a second, which neither server nor clients sustain here: those cells show queueing, not steady state. A cell writes rate x duration times, but at most ${MAX_DELIVERIES_PER_CELL.toLocaleString('en-US')} deliveries (so 10,000 subscribers on one query get 100 writes, 1,000 get 1,000); \`writes/s\` is the rate the writer achieved (writes answered over the time to the last answer), and a server that answers writes late makes the response-to-diff times look short, so also read \`req→diff\` and \`writes/s\`.`,
    ],
  };
}

/** The fan-out scenario. */
export const fanoutScenario: Scenario = {
  name: 'fanout',
  description:
    'N WebSocket subscribers (100, 1,000; 10,000 with --full) on one shared live query and on N distinct queries, writes over HTTP at 100 and 1,000/s: write-to-diff latency, completeness, event-loop delay, RSS per idle socket, against a bare ws broadcast and a raw-write floor',
  run,
};
