import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mastSync, spawnMast, stopMast, type MastProcess } from './helpers/cli-process.js';

// `mast start` under its supervisor: a crashed or watchdog-killed server is restarted with its
// data; a crash loop ends the command with exit code 1; a supervisor that dies takes its server
// along. Each case spawns the built CLI.
let dir: string;
let app: string;
const running: MastProcess[] = [];
beforeEach(() => {
  // Inside the repository, so function files can import @mast/functions from node_modules.
  dir = mkdtempSync(join(process.cwd(), '.tmp-sup-'));
  app = join(dir, 'app');
  expect(mastSync(['init', app, '--manifest']).status).toBe(0);
  mkdirSync(join(app, 'functions'), { recursive: true });
  const fn = (name: string, source: string): void => writeFileSync(join(app, 'functions', `${name}.ts`), source);
  // Answers, then ends the process as a crash would.
  fn('crash', "import { action } from '@mast/functions';\nexport default action({ async handler() { setTimeout(() => process.exit(3), 20); return 'bye'; } });\n");
  // Never yields: the spin watchdog kills the process.
  fn('spin', "import { query } from '@mast/functions';\nexport default query({ async handler() { await Promise.resolve(); for (;;) { /* never yields */ } } });\n");
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => stopMast(p)));
  rmSync(dir, { recursive: true, force: true });
});

const LISTENING = /"pid":(\d+)[^\n]*"port":(\d+)[^\n]*Mast listening/g;

/** The pid and port of the `n`th (1-based) server the supervisor started, once it listens. */
async function nthServer(p: MastProcess, n: number): Promise<{ pid: number; port: number }> {
  await p.waitFor(new RegExp(`(?:Mast listening[\\s\\S]*){${n}}`), 40_000);
  const all = [...p.output().matchAll(LISTENING)];
  const m = all[n - 1]!;
  return { pid: Number(m[1]), port: Number(m[2]) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const post = (port: number, path: string, body: unknown = {}) =>
  fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('mast start supervises its server', { timeout: 120_000 }, () => {
  it('restarts a server the spin watchdog killed, with its data, and stops it when the supervisor dies', async () => {
    // A fixed port: the restarted server listens where the first one did.
    const probe = spawnMast(['start', app, '--port', '0', '--host', '127.0.0.1', '--supervise=false']);
    running.push(probe);
    const { port } = await nthServer(probe, 1);
    await stopMast(probe);
    const p = spawnMast(['start', app, '--port', String(port), '--host', '127.0.0.1'], { MAST_FN_TIMEOUT: '400ms', MAST_FN_SPIN_EXIT: '800ms' });
    running.push(p);
    const first = await nthServer(p, 1);
    expect(first.pid).not.toBe(p.proc.pid);
    const created = await post(port, '/api/entities/Todo', { title: 'kept', done: false });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    void post(port, '/api/fn/spin').catch(() => undefined);
    await p.waitFor(/"name":"mast-supervisor"[^\n]*"signal":"SIGKILL"[^\n]*restarting it in \d+ ms/);
    const second = await nthServer(p, 2);
    expect(second.pid).not.toBe(first.pid);
    expect(alive(first.pid)).toBe(false);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/api/entities/Todo/${id}`)).status).toBe(200);
    // The supervisor killed outright: its server notices and stops, releasing the database.
    p.proc.kill('SIGKILL');
    for (let i = 0; i < 100 && alive(second.pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(second.pid)).toBe(false);
    const after = spawnMast(['start', app, '--port', '0', '--host', '127.0.0.1']);
    running.push(after);
    await nthServer(after, 1);
  });

  it('gives up on a crash loop with exit code 1 and a log line', async () => {
    const p = spawnMast(['start', app, '--port', '0', '--host', '127.0.0.1'], { MAST_RESTART_LIMIT: '3', MAST_RESTART_WINDOW: '60s' });
    running.push(p);
    for (let n = 1; n <= 3; n++) {
      const { port } = await nthServer(p, n);
      expect(await (await post(port, '/api/fn/crash')).json()).toBe('bye');
      if (n < 3) await p.waitFor(new RegExp(`(?:exited with code 3; restarting it[\\s\\S]*){${n}}`));
    }
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/"level":50[^\n]*"name":"mast-supervisor"[^\n]*exited with code 3: 3 crashes within 60 s, a crash loop; the supervisor gives up/);
  });

  it('passes SIGTERM on: the server drains and the command exits 0', async () => {
    const p = spawnMast(['start', app, '--port', '0', '--host', '127.0.0.1']);
    running.push(p);
    const { pid } = await nthServer(p, 1);
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('shutting down');
    expect(alive(pid)).toBe(false);
  });
});
