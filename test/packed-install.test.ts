import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFromCache, must, packWorkspaces, requireBuilt, run } from './helpers/packed.js';

// Mast as a user outside this repository gets it: the packages packed with `npm pack`, the
// tarballs installed together into an empty folder, then `npx mast init` / `npx mast start`.
// Third-party packages come from the local npm cache (`--offline`; `--prefer-offline` where the
// cache lacks their metadata). Install scripts are skipped and better-sqlite3's native addon is
// the one this repository's install built: a user's `npm install` builds or downloads its own.
const PACKAGES = ['protocol', 'schema', 'policy', 'functions', 'server', 'cli'];
const ADMIN = 'packed-admin-token';
const root = process.cwd();
let work: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

beforeAll(() => {
  requireBuilt(PACKAGES);
  work = mkdtempSync(join(tmpdir(), 'mast-packed-'));
}, 10_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed packages, installed outside the repository', { timeout: 180_000 }, () => {
  it('install, init a TypeScript app, start it, call its functions and list its crons', async () => {
    const tarballs = join(work, 'tarballs');
    const files = packWorkspaces(PACKAGES, tarballs);
    expect(files).toHaveLength(PACKAGES.length);

    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), '{ "private": true }\n');
    installFromCache(
      project,
      files.map((f) => join(tarballs, f)),
    );
    const addon = join('node_modules', 'better-sqlite3', 'build', 'Release');
    mkdirSync(join(project, addon), { recursive: true });
    copyFileSync(join(root, addon, 'better_sqlite3.node'), join(project, addon, 'better_sqlite3.node'));
    // Nothing resolves back into the repository: every @mast package is an installed copy.
    const server = JSON.parse(readFileSync(join(project, 'node_modules', '@mast', 'server', 'package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
    expect(server.exports['.']!['import']).toBe('./dist/index.js');
    expect(existsSync(join(project, 'node_modules', '@mast', 'server', 'src'))).toBe(false);

    const init = must(run('npx', ['--no', 'mast', 'init', 'app'], project), 'npx mast init app');
    expect(init.stdout).toContain('npx mast dev');
    const app = join(project, 'app');
    expect(existsSync(join(app, 'schema.ts'))).toBe(true);
    const appPackage = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(appPackage.dependencies)).toEqual(expect.arrayContaining(['@mast/cli', '@mast/functions', '@mast/schema']));

    const port = await freePort();
    const proc = spawn('npx', ['--no', 'mast', 'start', 'app', '--port', String(port), '--host', '127.0.0.1'], {
      cwd: project,
      env: { ...process.env, MAST_ADMIN_TOKEN: ADMIN },
      detached: true,
    });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      const base = `http://127.0.0.1:${port}`;
      let health = 0;
      for (let i = 0; i < 300 && health !== 200; i++) {
        if (proc.exitCode !== null) throw new Error(`mast start exited ${proc.exitCode}:\n${out}`);
        health = await fetch(`${base}/health`).then(
          (r) => r.status,
          () => 0,
        );
        if (health !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(health).toBe(200);
      const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const added = await post('/api/fn/addTodo', { title: 'from a packed install' });
      expect(added.status).toBe(200);
      const { id } = (await added.json()) as { id: string };
      // The query function reads what the mutation function wrote: both are live, on one database.
      const open = (await (await post('/api/fn/openTodos', {})).json()) as Array<{ id: string; title: string }>;
      expect(open).toEqual([expect.objectContaining({ id, title: 'from a packed install', done: false })]);
      expect((await post('/api/fn/addTodo', { title: 42 })).status).toBe(400);
      const admin = { authorization: `Bearer ${ADMIN}` };
      const crons = (await (await fetch(`${base}/api/crons`, { headers: admin })).json()) as { crons: Array<{ name: string; function: string; schedule: string }> };
      expect(crons.crons).toEqual([expect.objectContaining({ name: 'clearCompleted', function: 'clearCompleted', schedule: '0 3 * * *' })]);
      const cleared = await post('/api/fn/clearCompleted', {});
      expect(await cleared.json()).toEqual({ deleted: 0 });
    } finally {
      // To the whole process group, as a terminal's Ctrl-C or systemd's stop does: npx does not
      // pass a signal on to the command it runs.
      process.kill(-proc.pid!, 'SIGTERM');
    }
    const { code, signal } = await exited;
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(out).toContain('shutting down');
    expect(out).not.toMatch(/"level":50/);
  });
});
