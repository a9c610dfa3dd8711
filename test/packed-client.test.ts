import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFromCache, packWorkspaces, requireBuilt } from './helpers/packed.js';
import type { TestServer } from './helpers/test-server.js';
import { ADMIN, serverRows, startServer, tokenFor } from '../packages/client/test/harness.js';

// The client packages as an app outside this repository gets them: packed with `npm pack`,
// installed from the tarballs into an empty folder (third-party packages from the local npm
// cache: `--offline`, or `--prefer-offline` where the cache lacks their metadata), and run by
// plain Node ESM (no TypeScript at run time) against a real server.
const PACKAGES = ['protocol', 'schema', 'functions', 'client', 'react'];
let work: string;
let t: TestServer;

/** Every module the entry reaches through relative imports, with the bare specifiers each imports. */
function importGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    const source = readFileSync(file, 'utf8');
    const specifiers = [...source.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2])!);
    seen.set(
      file,
      specifiers.filter((s) => !s.startsWith('.')),
    );
    for (const s of specifiers) if (s.startsWith('.')) visit(resolve(dirname(file), s));
  };
  visit(entry);
  return seen;
}

const APP = `
import { createClient, textSplice } from '@mast/client';
import { fileStorage } from '@mast/client/node';
import { MastProvider, useQuery, usePaginatedQuery, useText, useAuth } from '@mast/react';
import { WebSocket } from 'ws';

const [url, token] = process.argv.slice(2);
const client = createClient({ url, auth: token, WebSocket, storage: await fileStorage('./client-store') });
await client.connected();
await client.insert('Todo', { id: 'packed-1', title: 'from the tarballs', done: false, ownerId: 'ann' });
const todos = client.query('Todo');
await todos.ready();
await client.sync();
await client.insert('Note', { id: 'packed-n', title: 'n', body: 'hi' });
const note = client.doc('Note', 'packed-n');
await note.ready();
note.doc.getText('body').insert(2, ' there');
note.doc.commit();
await client.flush();
console.log(JSON.stringify({
  rows: todos.rows.map((r) => r.title),
  storage: client.status.storage,
  userId: client.userId,
  hooks: [MastProvider, useQuery, usePaginatedQuery, useText, useAuth].map((f) => typeof f),
  splice: textSplice('ab', 'aXb'),
}));
await client.close();
`;

beforeAll(async () => {
  requireBuilt(PACKAGES);
  work = mkdtempSync(join(tmpdir(), 'mast-packed-client-'));
  t = await startServer();
}, 20_000);
afterAll(async () => {
  await t?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed client packages, installed outside the repository', { timeout: 180_000 }, () => {
  it('install the tarballs, import them from plain Node ESM, and talk to a real server', async () => {
    const tarballs = join(work, 'tarballs');
    const files = packWorkspaces(PACKAGES, tarballs);
    expect(files).toHaveLength(PACKAGES.length);

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{ "private": true, "type": "module" }\n');
    // react is @mast/react's peer dependency; ws is Node 20's WebSocket.
    installFromCache(app, [...files.map((f) => join(tarballs, f)), 'react@19', 'ws@8']);

    const client = join(app, 'node_modules', '@mast', 'client');
    // Installed copies with built JavaScript and types, no sources.
    expect(existsSync(join(client, 'dist', 'index.d.ts'))).toBe(true);
    expect(existsSync(join(client, 'src'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@mast', 'react', 'dist', 'index.d.ts'))).toBe(true);
    // The browser entry reaches no Node built-in; the node entry adds the file storage.
    const browser = importGraph(join(client, 'dist', 'index.js'));
    const bare = [...browser.values()].flat();
    expect(bare.filter((s) => s.startsWith('node:') || ['fs', 'path', 'os', 'crypto', 'fs/promises'].includes(s))).toEqual([]);
    expect(new Set(bare)).toEqual(new Set(['@mast/protocol', '@mast/schema/memory', 'idb', 'loro-crdt']));
    expect([...importGraph(join(client, 'dist', 'node.js')).values()].flat()).toContain('node:fs/promises');

    writeFileSync(join(app, 'main.mjs'), APP);
    const token = await tokenFor(t, 'ann');
    // Asynchronous: the server runs in this process and must keep answering.
    const { spawn } = await import('node:child_process');
    const out = await new Promise<string>((resolveOut, reject) => {
      const child = spawn(process.execPath, ['main.mjs', t.url, token], { cwd: app });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolveOut(stdout);
        else reject(new Error(`main.mjs exited ${code}:\n${stdout}\n${stderr}`));
      });
    });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
      rows: ['from the tarballs'],
      storage: 'durable',
      userId: 'ann',
      hooks: ['function', 'function', 'function', 'function', 'function'],
      splice: { index: 1, remove: 0, insert: 'X' },
    });
    expect((await serverRows(t, 'Todo')).map((r) => r.title)).toEqual(['from the tarballs']);
    const note = await t.request('GET', '/api/entities/Note/packed-n', { headers: { authorization: `Bearer ${ADMIN}` } });
    expect((note.json as { body: string }).body).toBe('hi there');
  });
});
