/**
 * `startup`: cold start of `mast start` (a fresh `node` process through the CLI, as a user runs
 * it) from spawn to the first 200 from `/health`, polled every 10 ms, and the server's RSS after
 * a short idle; on an empty database and on one holding 2,000 rows. With `--against pylon`, the
 * same for Pylon from the anchor's serve.sh (which times its own spawn-to-/health the same way).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Manifest } from '@mast/schema';
import type { Check, Measurement, ResultRow, Scenario, ScenarioContext, ScenarioResult } from '../scenario.js';
import { errorLine, ratio } from '../harness/cell-runner.js';
import { seedPylon, startPylon, PYLON_VERSION, type PylonServer } from '../harness/pylon.js';
import { seedDatabase } from '../harness/seed-database.js';

const ENTITY = 'Todo';
const ISOLATED_CASE = 'isolated function';
const FLOOR_CASE = 'bare node:http (floor)';
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SEEDED = 2_000;
const CLI = fileURLToPath(new URL('../../../packages/cli/bin/mast.js', import.meta.url));
const HEALTH_TIMEOUT_MS = 60_000;

/** The anchor's test app, as Mast and Pylon both read it. */
const MANIFEST: Manifest = {
  manifest_version: 1,
  name: 'bench-startup',
  version: '1.0.0',
  entities: [
    {
      name: ENTITY,
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'done', type: 'bool', optional: false, unique: false },
      ],
      indexes: [],
    },
  ],
  routes: [],
  policies: [{ name: 'todo_public', entity: ENTITY, allow: 'true' }],
};

function seedRow(index: number): { id: string; title: string; done: boolean } {
  return { id: (0x1800000000000000n + BigInt(index)).toString(16).padStart(32, '0') + '00000000', title: `todo ${index}`, done: index % 2 === 1 };
}

/** The pids of a process's children, from /proc. */
function childrenOf(pid: number): number[] {
  try {
    const tasks = readdirSync(`/proc/${pid}/task`);
    return tasks.flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter((s) => s !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}

/** RSS of a process and all its descendants (`mast start`'s supervisor and its server), in bytes. */
function treeRssOf(pid: number): number | null {
  const own = rssOf(pid);
  if (own === null) return null;
  return childrenOf(pid).reduce((sum, child) => sum + (treeRssOf(child) ?? 0), own);
}

/** Resident set size of a process in bytes, from /proc (null where there is none). */
function rssOf(pid: number): number | null {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** One start: spawn to first /health 200, and RSS (of the whole process tree) after `idleMs`. */
interface Start {
  readonly ms: number;
  readonly rss: number | null;
  /** The isolated app: ms from /health ready to the first isolated call's answer. */
  readonly firstCallMs?: number;
}

/** Polls `url` every 10 ms until it answers 200; throws when `child` exits or after the timeout. */
async function untilHealthy(url: string, child: ReturnType<typeof spawn>, started: number, stderr: () => string): Promise<void> {
  const deadline = started + HEALTH_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${stderr().trim().slice(-300)}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`no /health within ${HEALTH_TIMEOUT_MS} ms`);
    await sleep(10);
  }
}

/** The floor: a bare `node:http` server's spawn to first 200, and its idle RSS. */
async function startFloor(idleMs: number): Promise<Start> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await untilHealthy(`http://127.0.0.1:${port}/health`, child, started, () => stderr);
    const ms = Math.round(performance.now() - started);
    await sleep(idleMs);
    return { ms, rss: child.pid === undefined ? null : rssOf(child.pid) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * Starts `mast start` on `appDir`, times it to the first /health 200, then (with `firstCall`)
 * times the first call of that function right after, reads the idle RSS of its process tree
 * (the supervisor and its server) and stops it (by its pid).
 */
async function startMast(appDir: string, dbPath: string, idleMs: number, firstCall?: string): Promise<Start> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'start', appDir, '--port', String(port), '--host', '127.0.0.1', '--database-url', dbPath, '--log-level', 'silent'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await untilHealthy(`http://127.0.0.1:${port}/health`, child, started, () => stderr);
    const ms = Math.round(performance.now() - started);
    let firstCallMs: number | undefined;
    if (firstCall) {
      const before = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/api/fn/${firstCall}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`${firstCall} answered ${response.status}: ${text.slice(0, 200)}`);
      firstCallMs = Math.round(performance.now() - before);
    }
    await sleep(idleMs);
    return { ms, rss: child.pid === undefined ? null : treeRssOf(child.pid), ...(firstCallMs === undefined ? {} : { firstCallMs }) };
  } finally {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.exitCode === null && child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts Pylon fresh (then, seeded, restarts it) `runs` times; its own timing, RSS after `idleMs`. */
async function pylonStarts(runs: number, idleMs: number): Promise<{ empty: Start[]; seeded: Start[] }> {
  const empty: Start[] = [];
  const seeded: Start[] = [];
  for (let i = 0; i < runs; i++) {
    let server: PylonServer | null = null;
    try {
      server = await startPylon(MANIFEST);
      await sleep(idleMs);
      empty.push({ ms: server.startupMs ?? Number.NaN, rss: rssOf(server.pid) });
      await seedPylon(
        server,
        ENTITY,
        Array.from({ length: SEEDED }, (_, k) => seedRow(k)),
      );
      await server.restart();
      await sleep(idleMs);
      seeded.push({ ms: server.startupMs ?? Number.NaN, rss: rssOf(server.pid) });
    } finally {
      await server?.stop();
    }
  }
  return { empty, seeded };
}

/** Start times as a measurement (percentiles of the runs), with the fastest run and the median idle RSS. */
type StartupMeasurement = Measurement & { readonly minMs: number; readonly idleRssBytes: number | null; readonly runsMs: readonly number[]; readonly firstIsolatedCallMs?: number };

function summary(starts: readonly Start[]): StartupMeasurement {
  const ms = starts.map((s) => s.ms).sort((a, b) => a - b);
  const at = (p: number): number => ms[Math.min(ms.length - 1, Math.max(0, Math.ceil(p * ms.length) - 1))] ?? 0;
  const rss = starts
    .map((s) => s.rss)
    .filter((r): r is number => r !== null)
    .sort((a, b) => a - b);
  const calls = starts
    .map((s) => s.firstCallMs)
    .filter((c): c is number => c !== undefined)
    .sort((a, b) => a - b);
  return {
    completed: starts.length,
    seconds: 0,
    rps: 0,
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) },
    errors: 0,
    non2xx: 0,
    minMs: ms[0] ?? 0,
    idleRssBytes: rss[Math.floor((rss.length - 1) / 2)] ?? null,
    runsMs: starts.map((s) => s.ms),
    ...(calls.length > 0 ? { firstIsolatedCallMs: calls[Math.floor((calls.length - 1) / 2)]! } : {}),
  };
}

async function run(context: ScenarioContext): Promise<ScenarioResult> {
  const runs = context.quick || context.durationSec < 1 ? 1 : 5;
  const idleMs = context.quick || context.durationSec < 1 ? 200 : 2000;
  const dir = mkdtempSync(join(tmpdir(), 'mast-bench-startup-'));
  const results = new Map<string, Record<string, Measurement>>();
  const failures = new Map<string, string[]>();
  const fail = (op: string, message: string): void => void failures.set(op, [...(failures.get(op) ?? []), message]);
  const cases = ['empty database', `${SEEDED} rows`, ISOLATED_CASE, FLOOR_CASE] as const;
  // Inside the repository, so the isolated app's function file resolves @mast/functions.
  const isoApp = mkdtempSync(join(REPO, '.tmp-bench-'));
  try {
    writeFileSync(join(dir, 'pylon.manifest.json'), JSON.stringify(MANIFEST, null, 2));
    const seededDb = join(dir, 'seeded.db');
    await seedDatabase(seededDb, MANIFEST, ENTITY, SEEDED, seedRow);
    writeFileSync(join(isoApp, 'pylon.manifest.json'), JSON.stringify(MANIFEST, null, 2));
    mkdirSync(join(isoApp, 'functions'));
    writeFileSync(
      join(isoApp, 'functions', 'iso.ts'),
      "import { query } from '@mast/functions';\nexport default query({ isolated: true, async handler(ctx) { return (await ctx.db.query('Todo', { $limit: 1 })).length; } });\n",
    );
    const mast: Record<string, Start[]> = { [cases[0]]: [], [cases[1]]: [], [cases[2]]: [] };
    const floor: Start[] = [];
    for (let i = 0; i < runs; i++) {
      try {
        const start = await startFloor(idleMs);
        floor.push(start);
        context.log(`  floor (bare node:http) run ${i + 1}: 200 after ${start.ms} ms, idle RSS ${((start.rss ?? 0) / 2 ** 20).toFixed(1)} MB`);
      } catch (err) {
        fail(FLOOR_CASE, `floor: ${errorLine(err)}`);
      }
      try {
        const start = await startMast(isoApp, join(dir, `iso-${i}.db`), idleMs, 'iso');
        mast[ISOLATED_CASE]!.push(start);
        context.log(
          `  mast ${ISOLATED_CASE} run ${i + 1}: /health after ${start.ms} ms, first isolated call ${start.firstCallMs} ms after it, idle RSS ${((start.rss ?? 0) / 2 ** 20).toFixed(1)} MB`,
        );
      } catch (err) {
        fail(ISOLATED_CASE, `mast: ${errorLine(err)}`);
        context.log(`  mast ${ISOLATED_CASE} run ${i + 1} FAILED: ${errorLine(err)}`);
      }
      for (const [name, db] of [
        [cases[0], join(dir, `empty-${i}.db`)],
        [cases[1], seededDb],
      ] as const) {
        try {
          const start = await startMast(dir, db, idleMs);
          mast[name]!.push(start);
          context.log(`  mast ${name.padEnd(15)} run ${i + 1}: /health after ${start.ms} ms, idle RSS ${((start.rss ?? 0) / 2 ** 20).toFixed(1)} MB`);
        } catch (err) {
          fail(name, `mast: ${errorLine(err)}`);
          context.log(`  mast ${name} run ${i + 1} FAILED: ${errorLine(err)}`);
        }
      }
    }
    for (const name of cases) if ((mast[name]?.length ?? 0) > 0) results.set(name, { mast: summary(mast[name]!) });
    if (floor.length > 0) results.set(FLOOR_CASE, { floor: summary(floor) });
    if (context.against === 'pylon') {
      try {
        const pylon = await pylonStarts(runs, idleMs);
        for (const [name, starts] of [
          [cases[0], pylon.empty],
          [cases[1], pylon.seeded],
        ] as const) {
          for (const s of starts) context.log(`  pylon ${name.padEnd(15)}: /health after ${s.ms} ms, idle RSS ${((s.rss ?? 0) / 2 ** 20).toFixed(1)} MB`);
          if (starts.length > 0) results.set(name, { ...results.get(name), pylon: summary(starts) });
        }
      } catch (err) {
        for (const name of cases) fail(name, `pylon: ${errorLine(err)}`);
        context.log(`  pylon FAILED: ${errorLine(err)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(isoApp, { recursive: true, force: true });
  }
  const floorRun = results.get(FLOOR_CASE)?.['floor'] as StartupMeasurement | undefined;
  const rows: ResultRow[] = cases.map((name) => {
    const measured = results.get(name) ?? {};
    const [m, p] = [measured['mast'] as StartupMeasurement | undefined, measured['pylon'] as StartupMeasurement | undefined];
    const mastFailures = (failures.get(name) ?? []).filter((f) => f.startsWith('mast'));
    return {
      op: name,
      concurrency: 1,
      results: measured,
      ratios: {
        mastVsPylonMs: ratio(m?.latencyMs.p50, p?.latencyMs.p50),
        mastVsPylonRss: ratio(m?.idleRssBytes ?? undefined, p?.idleRssBytes ?? undefined),
        mastVsFloorMs: ratio(m?.latencyMs.p50, floorRun?.latencyMs.p50),
      },
      ...(name !== FLOOR_CASE && (mastFailures.length > 0 || !m) ? { failure: mastFailures.join('; ') || 'mast: not measured' } : {}),
    };
  });
  const pylonFailures = [...new Set([...failures.values()].flat().filter((f) => f.startsWith('pylon')))];
  return {
    scenario: 'startup',
    description: startupScenario.description,
    setup: {
      app: `one entity ${ENTITY} {title, done} (the anchor's test app), open policy`,
      mast: 'node packages/cli/bin/mast.js start <app> --port <free> --host 127.0.0.1 --database-url <file> --log-level silent: built JavaScript, the supervisor and its server process (tsx is loaded only for the isolated case, whose function file is TypeScript)',
      isolated: `${ISOLATED_CASE}: the same app plus functions/iso.ts, a query with isolated: true; firstIsolatedCallMs is its first call, made as soon as /health answers 200`,
      floor: `${FLOOR_CASE}: node -e "require('node:http').createServer(...).listen(port)", spawn to first 200, same polling`,
      pylon:
        context.against === 'pylon'
          ? `Pylon ${PYLON_VERSION} via the anchor's serve.sh (FRESH=1 for the empty database; a restart on the same database for the seeded one); its time is serve.sh's own spawn-to-/health, polled every 10 ms with curl`
          : null,
      runs,
      idleMsBeforeRss: idleMs,
      rss: 'VmRSS after the idle wait, median over the runs: for Mast the sum over its process tree (supervisor + server), for Pylon its server process, for the floor the node process',
    },
    rows,
    checks: [],
    table: startupTable(rows),
    ...(context.against === 'pylon'
      ? {
          notes: [
            `Pylon's start includes \`bun run app.ts\` to evaluate its manifest (20-40 ms, REPORT.md section 4.4) and a trixie glibc loader; Mast's is two Node.js processes (the supervisor, then the server it forks at once) running built JavaScript; only the isolated case loads tsx, for its function file.`,
            ...pylonFailures.map((f) => `Pylon failed: ${f.slice('pylon: '.length)}`),
          ],
        }
      : {}),
  };
}

const num = (value: number | undefined | null, digits = 0): string => (value === undefined || value === null || Number.isNaN(value) ? '—' : value.toFixed(digits));
const mb = (bytes: number | null | undefined): string => (bytes === null || bytes === undefined ? '—' : (bytes / 2 ** 20).toFixed(1));

function startupTable(rows: readonly ResultRow[]): NonNullable<ScenarioResult['table']> {
  const body: string[][] = [];
  for (const row of rows) {
    for (const target of ['mast', 'pylon', 'floor'] as const) {
      const m = row.results[target] as StartupMeasurement | undefined;
      if (!m) continue;
      body.push([
        row.op,
        target,
        String(m.completed),
        num(m.latencyMs.p50),
        num(m.minMs),
        num(m.latencyMs.max),
        mb(m.idleRssBytes),
        m.firstIsolatedCallMs === undefined ? '' : num(m.firstIsolatedCallMs),
        target === 'mast' ? num(row.ratios['mastVsPylonMs'], 2) : '',
        target === 'mast' ? num(row.ratios['mastVsPylonRss'], 2) : '',
        target === 'mast' ? num(row.ratios['mastVsFloorMs'], 1) : '',
      ]);
    }
  }
  return {
    columns: [
      'case',
      'server',
      'runs',
      'to /health median ms',
      'min ms',
      'max ms',
      'idle RSS MB',
      'first isolated call ms',
      'Mast/Pylon time',
      'Mast/Pylon RSS',
      'Mast/floor time',
    ],
    rows: body,
    notes: [
      'From spawning the server process to its first 200 from `/health` (polled every 10 ms), then the RSS of its process tree after the idle wait; the floor is a bare `node:http` server started and polled the same way in the same run.',
    ],
  };
}

/** The startup scenario. */
export const startupScenario: Scenario = {
  name: 'startup',
  description: 'cold start of `mast start` to the first 200 from /health, and idle RSS, on an empty database and on 2,000 rows',
  run,
};
