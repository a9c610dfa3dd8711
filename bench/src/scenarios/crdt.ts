/**
 * `crdt`: one 50,000-character richtext row with 10 socket subscribers while a client types one
 * character at a time at 20/s, pushing binary 0x11 updates: bytes each subscriber receives per
 * keystroke against the row's full snapshot (what Pylon sends on every write, measured in the
 * same run), push-to-receipt time and server CPU per update; then a cold load of 10 KB rows from
 * the sidecar after a restart. The server and the clients run in separate child processes.
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

async function startServer(dir: string, dbPath: string): Promise<{ child: BenchChild; origin: string }> {
  const child = await startChild(new URL('../harness/fanout-server-process.ts', import.meta.url), 'mast server', ['--expose-gc']);
  const params: FanoutServerParams = { kind: 'mast', appDir: dir, manifest: MANIFEST, config: { ...SERVER_CONFIG, databaseUrl: dbPath } };
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
    const target = (rowId: string, url: string): CrdtTarget => ({ url: `${url.replace('http:', 'ws:')}/ws`, token: TOKEN, entity: ENTITY, rowId, field: FIELD });
    try {
      const count = Math.max(5, Math.round(KEYS_PER_SEC * context.durationSec));
      const params: TypeParams = { ...target(bigId, server.origin), subscribers: SUBSCRIBERS, ratePerSec: KEYS_PER_SEC, count };
      context.log(`crdt: ${SUBSCRIBERS} subscribers on a ${BIG_CHARS}-character row, ${count} keystrokes at ${KEYS_PER_SEC}/s`);
      await clients.call('open', params, 60_000);
      const cpuBefore = cpuSeconds(server.child.pid);
      const { value, foreignCpuPct } = await withForeignCpu(() => [process.pid, clients.pid, server.child.pid], () => clients.call<TypeResult>('type', null, count * 1000 + 90_000));
      typed = { ...value, serverCpuMsPerUpdate: Math.round(((cpuSeconds(server.child.pid) - cpuBefore) * 1000 * 100) / Math.max(1, value.keystrokes)) / 100, foreignCpuPct };
      context.log(`  ${typed.bytesPerKeystrokePerSubscriber} B per keystroke per subscriber (snapshot ${typed.snapshotFrameBytesAfter} B); push→receipt p99 ${typed.pushToReceiptMs.p99} ms; server CPU ${typed.serverCpuMsPerUpdate} ms per update`);
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
      cold = { rows: coldIds.length, snapshotFrameBytes: bytes, coldSubscribeMsMedian: median(coldMs), warmSubscribeMsMedian: median(warmMs), coldMinusWarmMsMedian: median(coldMs.map((ms, i) => ms - warmMs[i]!)) };
      context.log(`  cold load of ${bytes} B snapshots: subscribe ${cold.coldSubscribeMsMedian} ms cold, ${cold.warmSubscribeMsMedian} ms warm (medians over ${coldIds.length} rows)`);
    } catch (err) {
      failures['cold load'] = message(err);
      context.log(`  cold load FAILED: ${failures['cold load']}`);
    }
  } finally {
    for (const child of children.reverse()) await child.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }

  const measurement = (completed: number, latency: { p50: number; p90: number; p99: number; max: number }, errors: number, foreignCpuPct: number | null): Measurement => ({ completed, seconds: context.durationSec, rps: Math.round(completed / context.durationSec), latencyMs: latency, errors, non2xx: 0, foreignCpuPct });
  const typingErrors = typed ? typed.errors.length + (typed.converged ? 0 : 1) + (typed.framesPerSubscriber.min === typed.keystrokes ? 0 : 1) : 0;
  rows.push({
    op: 'keystrokes',
    concurrency: SUBSCRIBERS,
    results: typed ? { mast: { ...typed, errorMessages: typed.errors, ...measurement(typed.keystrokes, typed.pushToReceiptMs, typingErrors, typed.foreignCpuPct) } as Measurement } : {},
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
  const checks: Check[] = [
    { name: `bytes per keystroke per subscriber < ${BYTES_TARGET}`, pass: typed !== null && typed.bytesPerKeystrokePerSubscriber < BYTES_TARGET, value: typed?.bytesPerKeystrokePerSubscriber ?? null, limit: BYTES_TARGET },
    { name: `cold load of a ~10 KB snapshot < ${COLD_TARGET_MS} ms (cold minus warm subscribe, median)`, pass: cold !== null && cold.coldMinusWarmMsMedian < COLD_TARGET_MS, value: cold?.coldMinusWarmMsMedian ?? null, limit: COLD_TARGET_MS },
  ];
  const cell = (value: number | string | undefined | null): string => (value === undefined || value === null ? '—' : String(value));
  return {
    scenario: 'crdt',
    description: crdtScenario.description,
    setup: { entity: ENTITY, field: `${FIELD} (richtext)`, bigRowChars: BIG_CHARS, subscribers: SUBSCRIBERS, keystrokesPerSec: KEYS_PER_SEC, keystroke: 'one character inserted mid-text in the writer\'s Loro doc, pushed as a 0x11 frame of doc.export({mode:"update", from})', coldRows: `${COLD_ROWS} rows of ${COLD_CHARS} characters, subscribed after a server restart`, serverConfig: { ...SERVER_CONFIG, adminToken: '(set)', logLevel: 'silent' } },
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
      ],
      notes: [
        'Times are on the machine-wide monotonic clock. Server CPU per update is all the server process\'s CPU during the typing window (after every socket has its snapshot) (receiving, merging, persisting, projecting, encoding and sending to 10 subscribers) divided by the keystrokes, at 10 ms tick resolution. The cold load is measured over a WebSocket: the first subscribe to a row after a restart reads its snapshot from the sidecar and imports it; the second is served from the cache; their difference is the estimate.',
      ],
    },
  };
}

/** The CRDT scenario. */
export const crdtScenario: Scenario = {
  name: 'crdt',
  description: '10 subscribers on a 50,000-character richtext row while one client types 20 characters/s as 0x11 pushes: bytes per keystroke per subscriber against the full snapshot, push-to-receipt time, server CPU per update; cold load of 10 KB snapshots after a restart',
  run,
  withoutPylon:
    "Pylon 0.11.3 is not run here: it has no CRDT deltas. On every push it sends each subscriber the row's whole Loro snapshot (0x10) and a JSON change event carrying the whole row (the anchor's REPORT.md section 4.5 measured 103,401 bytes per keystroke per subscriber on a 50,000-character row). The 'full snapshot' figure above is the size of that snapshot as Mast encodes it, measured in this run.",
};
