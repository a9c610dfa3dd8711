import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAST = join(process.cwd(), 'packages/cli/bin/mast.js');

interface Started {
  readonly port: number;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stop: () => void;
}

/** Starts `mast start` on `app` with `env`; resolves once it listens. */
function start(app: string, env: Record<string, string>): Promise<Started> {
  const proc = spawn(process.execPath, [MAST, 'start', app, '--port', '0', '--host', '127.0.0.1'], { env: { ...process.env, MAST_ADMIN_TOKEN: 'spin-admin-token', ...env } });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in: ${out}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m && out.includes('Mast listening')) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), output: () => out, exited, stop: () => proc.kill('SIGKILL') });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

/** The JSON log lines a process wrote. */
function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

// Inside the repository, so function files can import @mast/functions from node_modules.
let local: string;
let app: string;
beforeAll(() => {
  local = mkdtempSync(join(process.cwd(), '.tmp-spin-'));
  app = join(local, 'app');
  expect(spawnSync(process.execPath, [MAST, 'init', app, '--manifest'], { encoding: 'utf8' }).status).toBe(0);
  mkdirSync(join(app, 'functions'), { recursive: true });
  const fn = (name: string, source: string): void => writeFileSync(join(app, 'functions', `${name}.ts`), source);
  fn('spin', "import { query } from '@mast/functions';\nexport default query({ async handler() { await Promise.resolve(); for (;;) { /* never yields */ } } });\n");
  // Outlives its deadline awaiting, then spins: its call has answered FN_TIMEOUT, but it still blocks the loop.
  fn(
    'late',
    "import { action } from '@mast/functions';\nexport default action({ async handler() { await new Promise((r) => setTimeout(r, 700)); for (;;) { /* never yields */ } } });\n",
  );
  fn('hello', "import { query } from '@mast/functions';\nexport default query({ async handler() { return 'hi'; } });\n");
  // Waits (asynchronously) past its deadline: the call times out and the process is fine.
  fn('sleepy', "import { action } from '@mast/functions';\nexport default action({ async handler() { await new Promise((r) => setTimeout(r, 3000)); return 'late'; } });\n");
  // Blocks the loop for a while but ends within its deadline: reported, not fatal.
  fn(
    'busy',
    "import { query } from '@mast/functions';\nexport default query({ async handler() { const end = Date.now() + 1200; while (Date.now() < end) { /* busy */ } return 'done'; } });\n",
  );
});
afterAll(() => {
  rmSync(local, { recursive: true, force: true });
});

// One process, no supervisor: these cases watch the watchdog end it (test/supervisor.test.ts restarts one).
const env = { MAST_FN_TIMEOUT: '400ms', MAST_FN_SPIN_EXIT: '800ms', MAST_SUPERVISE: 'false' };

describe('a function handler that spins synchronously', { timeout: 90_000 }, () => {
  it('makes the process log the call and exit instead of hanging forever', async () => {
    const server = await start(app, env);
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const started = Date.now();
      // The first call of the process: the watchdog was started when the functions loaded.
      // The call never gets an answer: the process dies under it.
      const call = fetch(`${base}/api/fn/spin`, { method: 'POST' }).then(
        () => 'answered',
        () => 'connection lost',
      );
      const { signal } = await server.exited;
      const took = Date.now() - started;
      expect(await call).toBe('connection lost');
      expect(signal).toBe('SIGKILL');
      // Deadline 400 ms, then 800 ms of stall past it, plus the watchdog's 100 ms period and start-up noise.
      expect(took).toBeGreaterThanOrEqual(800);
      expect(took).toBeLessThan(10_000);
      const fatal = logLines(server.output()).find((line) => line.level === 60);
      expect(fatal?.msg).toMatch(/function handler runs synchronously past its deadline/);
      expect(fatal?.calls).toEqual([expect.objectContaining({ function: 'spin', deadlineMs: 400 })]);
    } finally {
      server.stop();
    }
  });

  it('names a handler that spins after its call already timed out', async () => {
    const server = await start(app, env);
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/fn/late`, { method: 'POST' });
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([400, 'FN_TIMEOUT']);
      const { signal } = await server.exited;
      expect(signal).toBe('SIGKILL');
      const fatal = logLines(server.output()).find((line) => line.level === 60);
      expect(fatal?.calls).toEqual([expect.objectContaining({ function: 'late', deadlineMs: 400 })]);
    } finally {
      server.stop();
    }
  });

  it('leaves alone a call that awaits past its deadline, and a stall within the deadline', async () => {
    const server = await start(app, { ...env, MAST_FN_TIMEOUT: '1500ms' });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      // 1.2 s of blocking inside a 1.5 s deadline: past the 0.8 s stall limit, but no call is late.
      const busy = await fetch(`${base}/api/fn/busy`, { method: 'POST' });
      expect(await busy.json()).toBe('done');
      const sleepy = await fetch(`${base}/api/fn/sleepy`, { method: 'POST' });
      expect([sleepy.status, ((await sleepy.json()) as { error: { code: string } }).error.code]).toEqual([400, 'FN_TIMEOUT']);
      expect(await (await fetch(`${base}/api/fn/hello`, { method: 'POST' })).json()).toBe('hi');
      const levels = logLines(server.output()).map((line) => [line.level, line.msg]);
      expect(levels).toContainEqual([40, 'event loop blocked']);
      expect(levels.some(([level]) => level === 60)).toBe(false);
    } finally {
      server.stop();
    }
  });

  it('is off with MAST_FN_SPIN_EXIT=0', async () => {
    const server = await start(app, { ...env, MAST_FN_SPIN_EXIT: '0' });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      void fetch(`${base}/api/fn/spin`, { method: 'POST' }).catch(() => undefined);
      const outcome = await Promise.race([server.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('still running'), 3000))]);
      expect(outcome).toBe('still running');
    } finally {
      server.stop();
    }
  });
});
