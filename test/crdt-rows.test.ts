import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { LoroDoc } from 'loro-crdt';
import { compileManifest, type Manifest } from '@mast/schema';
import { MastServer, loadConfig, projectDoc } from '@mast/server';
import { CrdtClient, serverDoc } from './helpers/crdt-client.js';

const ADMIN = 'admin-token-for-crdt-rows';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'crdt-rows',
  version: '1.0.0',
  entities: [
    {
      name: 'Doc',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'body', type: 'richtext', optional: true, unique: false },
        { name: 'likes', type: 'int', optional: true, unique: false, crdt: 'counter' },
        { name: 'tags', type: 'json', optional: true, unique: false, crdt: 'list' },
        { name: 'rank', type: 'int', optional: true, unique: false },
      ],
      indexes: [],
    },
    { name: 'Plain', crdt: false, fields: [{ name: 'body', type: 'richtext', optional: true, unique: false }], indexes: [] },
  ],
  routes: [],
  policies: [
    { name: 'docs_open', entity: 'Doc', allow: 'true' },
    { name: 'plain_open', entity: 'Plain', allow: 'true' },
  ],
};

interface Started {
  server: MastServer;
  url: string;
  logs: Array<Record<string, unknown>>;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

const open: Started[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function start(options: { maxDocs?: number; maxBytes?: number; dir?: string } = {}): Promise<Started> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'mast-crdt-'));
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  // The cache budgets come in as environment variables, as an operator sets them.
  const env = { MAST_CRDT_CACHE_DOCS: String(options.maxDocs ?? 100), MAST_CRDT_CACHE_BYTES: String(options.maxBytes ?? 1 << 24) };
  const config = loadConfig(env, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dir, 'db.sqlite'), adminToken: ADMIN });
  const server = await MastServer.create({
    appDir: dir,
    schema: compileManifest(manifest),
    config,
    logger,
  });
  const url = `http://127.0.0.1:${await server.listen()}`;
  const started: Started = {
    server,
    url,
    logs,
    async call(method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    },
    async close() {
      await server.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  open.push(started);
  return started;
}

async function rowAndDoc(s: Started, id: string): Promise<{ row: any; projected: any }> {
  const { json: row } = await s.call('GET', `/api/entities/Doc/${id}`);
  const doc = await serverDoc(s.server, 'Doc', id);
  const projected = doc ? { id, ...projectDoc(doc, s.server.schema.entity('Doc')) } : null;
  return { row, projected };
}

describe('CRDT rows through the JSON write paths', () => {
  it('a REST insert and patch keep the SQL row equal to the projected document, numbers as numbers', async () => {
    const s = await start();
    expect((await s.call('POST', '/api/entities/Doc', { id: 'd1', title: 'a', body: 'hello', likes: 2, tags: ['x'], rank: 3 })).status).toBe(201);
    const first = await rowAndDoc(s, 'd1');
    expect(first.projected).toEqual(first.row);
    expect((await s.call('PATCH', '/api/entities/Doc/d1', { body: 'hello world', likes: 5, rank: 4, tags: ['x', 'y'] })).status).toBe(200);
    const { row, projected } = await rowAndDoc(s, 'd1');
    expect(row).toEqual({ id: 'd1', title: 'a', body: 'hello world', likes: 5, tags: ['x', 'y'], rank: 4 });
    expect(projected).toEqual(row);
  });

  it('batch and transact write through the document too', async () => {
    const s = await start();
    expect((await s.call('POST', '/api/batch', { operations: [{ op: 'insert', entity: 'Doc', data: { id: 'b1', title: 'b', body: 'x' } }] })).status).toBe(200);
    expect((await s.call('POST', '/api/transact', [{ op: 'update', entity: 'Doc', id: 'b1', data: { body: 'xy' } }])).status).toBe(200);
    const { row, projected } = await rowAndDoc(s, 'b1');
    expect(row.body).toBe('xy');
    expect(projected).toEqual(row);
  });

  it('a REST text write is a character-level edit: a concurrent client edit survives it', async () => {
    const s = await start();
    await s.call('POST', '/api/entities/Doc', { id: 'd1', title: 'a', body: 'hello world' });
    const client = new LoroDoc();
    client.import((await serverDoc(s.server, 'Doc', 'd1'))!.export({ mode: 'snapshot' }));
    client.getText('body').insert(6, 'brave ');
    client.commit();
    await s.call('PATCH', '/api/entities/Doc/d1', { body: 'hello world!' });
    client.import((await s.server.docs.read('Doc', 'd1'))!.export({ mode: 'update', from: client.oplogVersion() }));
    expect(client.getText('body').toString()).toBe('hello brave world!');
  });

  it('a failed write leaves the document as it was (the cache holds committed documents only)', async () => {
    const s = await start();
    await s.call('POST', '/api/entities/Doc', { id: 'd1', title: 'a', body: 'one' });
    await serverDoc(s.server, 'Doc', 'd1');
    const res = await s.call('POST', '/api/transact', [
      { op: 'update', entity: 'Doc', id: 'd1', data: { body: 'two' } },
      { op: 'update', entity: 'Doc', id: 'missing', data: { body: 'x' } },
    ]);
    expect(res.status).toBe(404);
    expect((await rowAndDoc(s, 'd1')).projected.body).toBe('one');
  });

  it('a delete removes the document; a crdt:false entity keeps none', async () => {
    const s = await start();
    await s.call('POST', '/api/entities/Doc', { id: 'd1', title: 'a' });
    await s.call('POST', '/api/entities/Plain', { id: 'p1', body: 'x' });
    await serverDoc(s.server, 'Doc', 'd1');
    expect(await s.server.store.crdt.get('Doc', 'd1')).not.toBeNull();
    expect(await s.server.store.crdt.get('Plain', 'p1')).toBeNull();
    await s.call('DELETE', '/api/entities/Doc/d1');
    expect(await s.server.store.crdt.get('Doc', 'd1')).toBeNull();
    expect(await s.server.docs.read('Doc', 'd1')).toBeNull();
  });

  it('evicts documents past the cache budget and reloads them with their data, also after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mast-crdt-'));
    try {
      const s = await start({ maxDocs: 2, dir });
      for (let i = 0; i < 6; i++) await s.call('POST', '/api/entities/Doc', { id: `d${i}`, title: `t${i}`, body: `body ${i}`, likes: i });
      for (let i = 0; i < 6; i++) await serverDoc(s.server, 'Doc', `d${i}`);
      expect(s.server.docs.cacheStats()).toMatchObject({ entries: 2 });
      expect(s.server.docs.cacheStats().evictions).toBeGreaterThanOrEqual(4);
      await s.call('PATCH', '/api/entities/Doc/d0', { body: 'body 0 edited', likes: 10 });
      for (let i = 0; i < 6; i++) {
        const { row, projected } = await rowAndDoc(s, `d${i}`);
        expect(projected).toEqual(row);
      }
      await s.close();
      open.splice(open.indexOf(s), 1);
      const again = await start({ maxDocs: 2, dir });
      const { row, projected } = await rowAndDoc(again, 'd0');
      expect(row).toMatchObject({ body: 'body 0 edited', likes: 10 });
      expect(projected).toEqual(row);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the cache under its byte budget and reloads what it evicted', async () => {
    const s = await start({ maxBytes: 60_000 });
    for (let i = 0; i < 8; i++) await s.call('POST', '/api/entities/Doc', { id: `d${i}`, title: `t${i}`, body: 'x'.repeat(200 + i) });
    for (let i = 0; i < 8; i++) await serverDoc(s.server, 'Doc', `d${i}`);
    const stats = s.server.docs.cacheStats();
    expect(stats.bytes).toBeLessThanOrEqual(60_000);
    expect(stats.entries).toBeLessThan(8);
    expect(stats.evictions).toBeGreaterThan(0);
    for (let i = 0; i < 8; i++) expect((await rowAndDoc(s, `d${i}`)).projected.body).toBe('x'.repeat(200 + i));
  });

  it('a corrupt stored document is reported (error and log), the server keeps serving, and removing it repairs the row', async () => {
    const s = await start({ maxDocs: 0 });
    await s.call('POST', '/api/entities/Doc', { id: 'd1', title: 'a', body: 'text' });
    await serverDoc(s.server, 'Doc', 'd1');
    const stored = (await s.server.store.crdt.get('Doc', 'd1'))!;
    const bad = stored.snapshot.slice();
    bad[bad.length - 3]! ^= 0xff;
    await s.server.store.write((tx) => tx.putCrdt({ ...stored, snapshot: bad }));
    const res = await s.call('PATCH', '/api/entities/Doc/d1', { body: 'more text' });
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('CRDT_CORRUPT');
    expect(s.logs.some((l) => l['msg'] === 'stored CRDT document cannot be decoded' && l['rowId'] === 'd1')).toBe(true);
    expect((await s.call('GET', '/api/entities/Doc/d1')).json.body).toBe('text');
    // A push and a subscribe to the row get the same error; the stored bytes stay as they are.
    const client = new LoroDoc();
    client.getText('body').insert(0, 'x');
    client.commit();
    const push = await fetch(`${s.url}/api/crdt/Doc/d1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ update: Buffer.from(client.export({ mode: 'update' })).toString('hex') }),
    });
    expect(push.status).toBe(500);
    expect(((await push.json()) as { error: { code: string } }).error.code).toBe('CRDT_CORRUPT');
    const socket = await CrdtClient.connect(`${s.url.replace('http:', 'ws:')}/ws`, ADMIN, 'Doc');
    socket.send({ type: 'crdt-subscribe', id: 's1', entity: 'Doc', rowId: 'd1' });
    expect(await socket.error()).toMatchObject({ id: 's1', code: 'CRDT_CORRUPT', entity: 'Doc', rowId: 'd1' });
    // Other rows are served as before, on the same socket.
    await s.call('POST', '/api/entities/Doc', { id: 'd2', title: 'b', body: 'fine' });
    socket.send({ type: 'crdt-subscribe', entity: 'Doc', rowId: 'd2' });
    await socket.frame(0);
    expect(socket.text('d2')).toBe('fine');
    socket.ws.close();
    expect(Buffer.from((await s.server.store.crdt.get('Doc', 'd1'))!.snapshot)).toEqual(Buffer.from(bad));
    expect((await s.call('GET', '/api/entities/Doc/d1')).json.body).toBe('text');
    await s.server.store.write((tx) => tx.deleteCrdt('Doc', 'd1'));
    expect((await s.call('PATCH', '/api/entities/Doc/d1', { body: 'more text' })).status).toBe(200);
    expect((await rowAndDoc(s, 'd1')).projected.body).toBe('more text');
  });
});
