/**
 * What the browser benchmarks share: the todo example served by `mast start` in a child
 * process, admin-minted sessions, Debian's Chromium (launched as the browser tests launch it),
 * and timing statistics.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM } from '../../../test/helpers/browser.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAST = join(ROOT, 'packages/cli/bin/mast.js');
/** The example app the browser benchmarks drive. */
export const TODO_APP = join(ROOT, 'examples/todo');

/** Nearest-rank percentiles, mean and max of a list of milliseconds, rounded to 0.01 ms. */
export interface TimingStats {
  readonly n: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly maxMs: number;
}

export function timingStats(values: readonly number[]): TimingStats {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  const round = (v: number): number => Math.round(v * 100) / 100;
  return {
    n: sorted.length,
    p50Ms: round(at(0.5)),
    p90Ms: round(at(0.9)),
    p99Ms: round(at(0.99)),
    meanMs: round(sorted.reduce((s, v) => s + v, 0) / sorted.length),
    maxMs: round(sorted.at(-1) ?? Number.NaN),
  };
}

/** A `mast start examples/todo` on a free port; `stop` ends it and waits for its exit. */
export interface TodoServer {
  readonly url: string;
  readonly adminToken: string;
  stop(): Promise<void>;
}

/**
 * Starts the built todo example on a SQLite file in `dir`, with rate limits off and `env`
 * added. Refuses when the example's page or Chromium is missing.
 */
export async function startTodoServer(dir: string, adminToken: string, env: Record<string, string> = {}): Promise<TodoServer> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install -y chromium)`);
  if (!existsSync(join(TODO_APP, 'public', 'index.html'))) throw new Error('examples/todo/public is not built: npm run build');
  const childEnv = { ...process.env, MAST_ADMIN_TOKEN: adminToken, MAST_RATE_LIMIT: '0', MAST_LOG_LEVEL: 'info', MAST_DATABASE_URL: join(dir, 'todo.db'), ...env };
  const child = spawn(process.execPath, [MAST, 'start', TODO_APP, '--port', '0', '--host', '127.0.0.1'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /https?:\/\/[\d.]+:(\d+)/.exec(out) ?? /"port":(\d+)/.exec(out);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`mast start exited (${code}): ${out}`)));
  });
  return {
    url,
    adminToken,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A session token for `userId`, minted with the admin token. */
export async function sessionFor(server: TodoServer, userId: string): Promise<string> {
  const res = await fetch(`${server.url}/api/auth/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminToken}` },
    body: JSON.stringify({ user_id: userId }),
  });
  if (!res.ok) throw new Error(`session for ${userId}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Debian's Chromium with the browser tests' flags (`test/helpers/browser.ts`). */
export { launchChromium } from '../../../test/helpers/browser.js';
