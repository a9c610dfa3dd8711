/**
 * The real Pylon 0.11.3 server as a second target (`--against pylon`), run through the anchor's
 * own scripts (`setup.sh` installs it under /tmp, `serve.sh` starts and stops it; see the
 * anchor's README.md and REPORT.md). It runs in dev mode with its rate limiters neutralised by
 * serve.sh and request logging at warn (Mast's server runs with logging off), on ports that do
 * not collide with the usual 4321-4323. Every Pylon started here is stopped when the bench ends,
 * also when it fails or is interrupted.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { waitForHealth } from './wait-for-health.js';

const run = promisify(execFile);

/** The Pylon version the anchor installs; reported beside every Pylon figure. */
export const PYLON_VERSION = '0.11.3';
/** Base ports tried in turn (HTTP on the port, WebSocket on port+1, SSE on port+2). */
const BASE_PORTS = [4431, 4441, 4451, 4461, 4471, 4481, 4491];
const START_TIMEOUT_MS = 60_000;
const SETUP_TIMEOUT_MS = 300_000;
const SEED_CHUNK = 500;

/** The anchor folder: `$PYLON_ANCHOR_DIR`, or `shared/anchors/pylon` beside a parent of the repository. */
export function anchorDir(): string | null {
  if (process.env['PYLON_ANCHOR_DIR']) return resolve(process.env['PYLON_ANCHOR_DIR']);
  for (let dir = fileURLToPath(new URL('../../../', import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'anchors', 'pylon');
    if (existsSync(join(candidate, 'serve.sh'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

/** Field types Pylon's manifest validator accepts (anything else fails its start with FIELD_TYPE_UNKNOWN). */
const PYLON_TYPES = /^(string|int|float|bool|datetime|richtext|id\(\w+\))$/;

interface ManifestLike {
  readonly entities: readonly { readonly name: string; readonly fields: readonly { readonly name: string; readonly type: string }[] }[];
  readonly [key: string]: unknown;
}

/**
 * The bench's manifest as Pylon reads it: the same JSON (Pylon ignores keys it does not know,
 * and reads `allow` as the fallback of every `allow*` rule, as Mast does), with the optional
 * lists Pylon's parser names. Throws on a field type Pylon would refuse.
 */
export function pylonManifest(manifest: unknown): Record<string, unknown> {
  const m = manifest as ManifestLike;
  for (const entity of m.entities) {
    for (const field of entity.fields) {
      if (!PYLON_TYPES.test(field.type)) throw new Error(`${entity.name}.${field.name} has type ${field.type}, which Pylon does not accept`);
    }
  }
  return { queries: [], actions: [], ...m };
}

/** A running Pylon started by the bench. */
export interface PylonServer {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** `ws://127.0.0.1:<port+1>/`: Pylon's WebSocket listens on its own port. */
  readonly wsUrl: string;
  readonly pid: number;
  /** Bearer token Pylon treats as admin (for seeding through `/api/batch`). */
  readonly adminToken: string;
  /** serve.sh's own measure: spawn to first 200 from `/health`, polled every 10 ms. */
  readonly startupMs: number | null;
  /** Stops and starts it again on the same database (empties its in-memory per-IP limiters). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const running = new Map<string, number>();
let cleanupInstalled = false;

/** Kills every Pylon still running (by the process group serve.sh started it in) on exit or interrupt. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = (): void => {
    for (const pid of running.values()) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    running.clear();
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolvePort(true)));
  });
}

async function freeBasePort(): Promise<number> {
  for (const base of BASE_PORTS) {
    if ((await portFree(base)) && (await portFree(base + 1)) && (await portFree(base + 2))) return base;
  }
  throw new Error(`no free port triple among ${BASE_PORTS.join(', ')} (+1, +2)`);
}

let installChecked: Promise<string | null> | null = null;

/**
 * Makes sure the anchor's Pylon install is there, running its setup.sh (under /tmp only, about
 * 20 s) when it is not. Resolves with null when Pylon can run, or with the reason it cannot.
 */
export function ensurePylon(log: (line: string) => void): Promise<string | null> {
  installChecked ??= (async () => {
    const dir = anchorDir();
    if (!dir) return 'the Pylon anchor (shared/anchors/pylon) was not found; set PYLON_ANCHOR_DIR';
    const works = async (): Promise<boolean> => {
      try {
        const { stdout } = await run(join(dir, 'pylon.sh'), ['version'], { timeout: 30_000 });
        return stdout.includes(PYLON_VERSION);
      } catch {
        return false;
      }
    };
    if (await works()) return null;
    log(`pylon: not installed; running ${join(dir, 'setup.sh')} (installs under /tmp)`);
    try {
      await run(join(dir, 'setup.sh'), [], { timeout: SETUP_TIMEOUT_MS, env: { ...process.env, NO_WRK: '1' }, maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      return `setup.sh failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' | ')}`;
    }
    return (await works()) ? null : `setup.sh ran but ${join(dir, 'pylon.sh')} version does not print ${PYLON_VERSION}`;
  })();
  return installChecked;
}

/** Waits until Pylon's WebSocket port completes an upgrade (it may answer /health before that). */
async function waitForWebSocket(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolveOpen) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 2000 });
      ws.once('open', () => {
        ws.terminate();
        resolveOpen(true);
      });
      ws.once('error', (err) => {
        last = err.message;
        resolveOpen(false);
      });
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${url} did not accept a WebSocket within ${timeoutMs} ms (${last})`);
}

/** Starts a fresh Pylon serving `manifest` (an empty database), and waits for its `/health`. */
export async function startPylon(manifest: unknown): Promise<PylonServer> {
  const dir = anchorDir();
  if (!dir) throw new Error('the Pylon anchor was not found');
  const work = mkdtempSync(join(tmpdir(), 'mast-bench-pylon-'));
  const manifestFile = join(work, 'pylon.manifest.json');
  writeFileSync(manifestFile, JSON.stringify(pylonManifest(manifest), null, 2));
  const runDir = join(work, 'run');
  const port = await freeBasePort();
  const adminToken = randomBytes(24).toString('hex');
  const env = {
    ...process.env,
    PORT: String(port),
    RUN: runDir,
    MANIFEST: manifestFile,
    EXTRA_ENV: `PYLON_ADMIN_TOKEN=${adminToken} RUST_LOG=warn`,
  };
  const serve = async (command: 'start' | 'stop', fresh = false): Promise<string> => {
    const { stdout } = await run(join(dir, 'serve.sh'), [command], { env: { ...env, FRESH: fresh ? '1' : '0' }, timeout: START_TIMEOUT_MS });
    return stdout;
  };
  const pidOf = (): number => Number(readFileSync(join(runDir, 'server.pid'), 'utf8').trim());
  installCleanup();
  let startupMs: number | null = null;
  const start = async (fresh: boolean): Promise<void> => {
    try {
      const out = await serve('start', fresh);
      const ms = /first \/health OK after (\d+) ms/.exec(out);
      startupMs = ms ? Number(ms[1]) : null;
    } finally {
      if (existsSync(join(runDir, 'server.pid'))) running.set(work, pidOf());
    }
  };
  const stop = async (): Promise<void> => {
    try {
      await serve('stop');
    } finally {
      const pid = running.get(work);
      running.delete(work);
      if (pid !== undefined) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // stopped by serve.sh
        }
      }
    }
  };
  try {
    await start(true);
  } catch (err) {
    await stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    const e = err as { stderr?: string; message: string };
    throw new Error(`serve.sh start failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' | ')}`);
  }
  const origin = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port + 1}/`;
  const ready = async (): Promise<void> => {
    await waitForHealth(origin);
    await waitForWebSocket(wsUrl);
  };
  try {
    await ready();
  } catch (err) {
    await stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return {
    origin,
    wsUrl,
    get pid() {
      return running.get(work) ?? -1;
    },
    adminToken,
    get startupMs() {
      return startupMs;
    },
    async restart() {
      await stop();
      await start(false);
      await ready();
    },
    async stop() {
      await stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Inserts rows (with their own ids) through Pylon's admin `/api/batch`, in chunks; throws on any failed op. */
export async function seedPylon(server: PylonServer, entity: string, rows: readonly Record<string, unknown>[]): Promise<void> {
  for (let start = 0; start < rows.length; start += SEED_CHUNK) {
    const operations = rows.slice(start, start + SEED_CHUNK).map((data) => ({ op: 'insert', entity, data }));
    const response = await fetch(`${server.origin}/api/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
      body: JSON.stringify({ operations }),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`Pylon /api/batch answered ${response.status}: ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as { failed: number; results: { ok: boolean; error?: string }[] };
    if (body.failed > 0) throw new Error(`Pylon /api/batch: ${body.failed} of ${operations.length} inserts failed (${body.results.find((r) => !r.ok)?.error ?? '?'})`);
  }
}
