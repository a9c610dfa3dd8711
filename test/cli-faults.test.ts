import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mastSync, spawnMast, startMast, stopMast, type MastProcess } from './helpers/cli-process.js';

// Faults a deploy must not pass silently: a function file that does not load, two servers on
// one database. Each case spawns the built CLI, as a user runs it.
let dir: string;
const running: MastProcess[] = [];
beforeEach(() => {
  // Inside the repository, so function files can import @mast/functions from node_modules.
  dir = mkdtempSync(join(process.cwd(), '.tmp-cli-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => stopMast(p)));
  rmSync(dir, { recursive: true, force: true });
});

const GOOD = "import { query } from '@mast/functions';\nexport default query({ async handler() { return 'fixed'; } });\n";
const BROKEN = "import { query } from '@mast/functions';\nexport default query({ async handler() { return 'no' ;\n";

function appWith(files: Record<string, string>): string {
  const app = join(dir, 'app');
  expect(mastSync(['init', app, '--manifest']).status).toBe(0);
  mkdirSync(join(app, 'functions'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(app, 'functions', name), text);
  return app;
}

describe('a function file that fails to load', { timeout: 60_000 }, () => {
  it('stops mast start with exit code 1, naming the file and the error', async () => {
    const app = appWith({ 'good.ts': GOOD, 'broken.ts': BROKEN });
    const p = spawnMast(['start', app, '--port', '0', '--host', '127.0.0.1']);
    running.push(p);
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain(join(app, 'functions', 'broken.ts'));
    expect(p.output()).toMatch(/broken.ts:3 could not be loaded: Unexpected end of file/);
    expect(p.output()).not.toContain('Mast listening');
  });

  it('keeps mast dev serving, /health 503 naming the file, until the file is fixed', async () => {
    const app = appWith({ 'hello.ts': BROKEN });
    const p = await startMast('dev', app);
    running.push(p);
    const health = await fetch(`http://127.0.0.1:${p.port}/health`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; problems: string[] };
    expect(body.status).toBe('not_ready');
    expect(body.problems.join('\n')).toContain(join(app, 'functions', 'hello.ts'));
    writeFileSync(join(app, 'functions', 'hello.ts'), GOOD);
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await fetch(`http://127.0.0.1:${p.port}/health`)).status;
    }
    expect(status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${p.port}/api/fn/hello`, { method: 'POST' })).json()).toBe('fixed');
  });
});

describe('two servers on one SQLite database', { timeout: 60_000 }, () => {
  it('refuses the second server and a migration while the first runs, and not after the first is killed -9', async () => {
    const app = appWith({});
    // Unsupervised, so that kill -9 below ends the server for good (a supervisor would restart it).
    const first = await startMast('start', app, {}, ['--supervise=false']);
    running.push(first);
    const second = spawnMast(['start', app, '--port', '0', '--host', '127.0.0.1']);
    running.push(second);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`The database ${join(app, '.mast', 'mast.db')} is in use by another Mast server`);
    const dev = spawnMast(['dev', app, '--port', '0', '--host', '127.0.0.1']);
    running.push(dev);
    expect(await dev.exited).toBe(1);
    expect(dev.output()).toContain('is in use by another Mast server');
    const migrate = mastSync(['migrate', app]);
    expect(migrate.status).toBe(1);
    expect(migrate.stderr).toContain('is in use by another Mast server');
    // The first still serves; a crash (kill -9) of its server leaves no stale lock behind.
    expect((await fetch(`http://127.0.0.1:${first.port}/health`)).status).toBe(200);
    process.kill(first.serverPid, 'SIGKILL');
    await first.exited;
    const third = await startMast('start', app);
    running.push(third);
    expect((await fetch(`http://127.0.0.1:${third.port}/health`)).status).toBe(200);
  });
});

describe('mast backup', { timeout: 60_000 }, () => {
  it('copies the database of a running server, consistent, and the copy serves', async () => {
    const app = appWith({});
    const server = await startMast('start', app);
    running.push(server);
    const created = await fetch(`http://127.0.0.1:${server.port}/api/entities/Todo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'backed up', done: false }),
    });
    const { id } = (await created.json()) as { id: string };
    const target = join(dir, 'backup.db');
    const res = mastSync(['backup', app, '--to', target]);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.stdout).toContain(`to ${target}`);
    // Never over an existing file.
    const again = mastSync(['backup', app, '--to', target]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already exists');
    const restored = await startMast('start', app, {}, ['--database-url', target]);
    running.push(restored);
    const row = await fetch(`http://127.0.0.1:${restored.port}/api/entities/Todo/${id}`);
    expect(row.status).toBe(200);
    expect(((await row.json()) as { title: string }).title).toBe('backed up');
  });
});
