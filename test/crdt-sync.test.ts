import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LoroDoc } from 'loro-crdt';
import { encodeCrdtFrame } from '@mast/protocol';
import { compileManifest, type Manifest } from '@mast/schema';
import { MastServer, loadConfig, projectDoc } from '@mast/server';
import { CrdtClient, serverDoc } from './helpers/crdt-client.js';

const ADMIN = 'admin-token-for-crdt-sync';
const OWNER = 'auth.userId == data.ownerId';
const MAX_FRAME = 256 * 1024;

const manifest: Manifest = {
  manifest_version: 1,
  name: 'crdt-sync',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Note',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'body', type: 'richtext', optional: true, unique: false },
        { name: 'ownerId', type: 'string', optional: false, unique: false },
        { name: 'shared', type: 'bool', optional: true, unique: false },
      ],
      indexes: [],
    },
    { name: 'Plain', crdt: false, fields: [{ name: 'body', type: 'string', optional: true, unique: false }], indexes: [] },
  ],
  policies: [
    { name: 'note_rules', entity: 'Note', allowRead: `${OWNER} || data.shared == true`, allowInsert: OWNER, allowUpdate: `${OWNER} || data.shared == true` },
    { name: 'plain_open', entity: 'Plain', allow: 'true' },
  ],
};

interface Started {
  server: MastServer;
  ws: string;
  call(method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; json: any }>;
  token(userId: string): Promise<string>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(maxDocs = 100): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'mast-crdt-sync-'));
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      logLevel: 'silent',
      databaseUrl: join(dir, 'db.sqlite'),
      adminToken: ADMIN,
      wsMaxFrame: MAX_FRAME,
      crdtCacheDocs: maxDocs,
      crdtCacheBytes: 1 << 24,
    },
  );
  const server = await MastServer.create({ appDir: dir, schema: compileManifest(manifest), config });
  const port = await server.listen();
  cleanups.push(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${port}`;
  const call: Started['call'] = async (method, path, token, body) => {
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    const res = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  return {
    server,
    ws: `ws://127.0.0.1:${port}/ws`,
    call,
    token: async (userId) => (await call('POST', '/api/auth/session', ADMIN, { user_id: userId })).json.token as string,
  };
}

async function connect(s: Started, token: string | null): Promise<CrdtClient> {
  const client = await CrdtClient.connect(s.ws, token);
  cleanups.push(async () => {
    client.ws.close();
  });
  return client;
}

async function rowOf(s: Started, id: string): Promise<Record<string, unknown>> {
  return (await s.call('GET', `/api/entities/Note/${id}`, ADMIN)).json;
}

/** The SQL row and the server's projected document agree. */
async function expectConsistent(s: Started, id: string): Promise<Record<string, unknown>> {
  const row = await rowOf(s, id);
  const doc = await serverDoc(s.server, 'Note', id);
  expect({ id, ...projectDoc(doc!, s.server.schema.entity('Note')) }).toEqual(row);
  return row;
}

async function setup(maxDocs = 100): Promise<{ s: Started; alice: string; bob: string }> {
  const s = await start(maxDocs);
  const alice = await s.token('alice');
  const bob = await s.token('bob');
  expect((await s.call('POST', '/api/entities/Note', alice, { id: 'n1', title: 'shared', body: 'hello world', ownerId: 'alice', shared: true })).status).toBe(201);
  expect((await s.call('POST', '/api/entities/Note', alice, { id: 'private', title: 'mine', body: 'secret', ownerId: 'alice', shared: false })).status).toBe(201);
  for (const id of ['n1', 'private']) await serverDoc(s.server, 'Note', id);
  return { s, alice, bob };
}

describe('CRDT sync over the socket', () => {
  it('sends a 0x10 snapshot first, then 0x11 updates smaller than a snapshot, and the client converges', async () => {
    const { s, alice } = await setup();
    const a = await connect(s, alice);
    a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
    const first = await a.frame(0);
    expect(first).toMatchObject({ type: 0x10, entity: 'Note', rowId: 'n1' });
    expect(a.text('n1')).toBe('hello world');
    await s.call('PATCH', '/api/entities/Note/n1', alice, { body: 'hello brave world' });
    const second = await a.frame(1);
    expect(second.type).toBe(0x11);
    const snapshotSize = (await s.server.store.crdt.get('Note', 'n1'))!.snapshot.length;
    expect(second.size).toBeLessThan(snapshotSize);
    expect(a.text('n1')).toBe('hello brave world');
  });

  it('two clients typing concurrently, one of them offline for a while, converge to one text equal to the SQL row', async () => {
    const { s, alice, bob } = await setup();
    const a = await connect(s, alice);
    const b = await connect(s, bob);
    a.send({ type: 'crdt-subscribe', entity: 'Note', row_id: 'n1' });
    b.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
    await a.frame(0);
    await b.frame(0);
    // Concurrent edits at both ends of the text, pushed before either has seen the other's.
    a.type('n1', (d) => d.getText('body').insert(0, 'A:'));
    b.type('n1', (d) => d.getText('body').insert(d.getText('body').length, ':B'));
    await a.waitFor(() => (a.text('n1') === 'A:hello world:B' ? true : undefined));
    await b.waitFor(() => (b.text('n1') === 'A:hello world:B' ? true : undefined));
    // b goes offline and keeps typing; a keeps typing online.
    b.ws.close();
    const offline = b.doc('n1');
    const offlineFrom = offline.oplogVersion();
    for (const word of [' one', ' two']) {
      offline.getText('body').insert(offline.getText('body').length, word);
      offline.commit();
    }
    a.type('n1', (d) => d.getText('body').insert(2, '!'));
    await a.waitFor(() => (a.text('n1').startsWith('A:!') ? true : undefined));
    // Back online: it names the last version it had from the server, gets only what it missed,
    // then pushes its offline edits.
    const back = await connect(s, bob);
    back.docs.set('n1', offline);
    back.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1', vv: Buffer.from(offlineFrom.encode()).toString('hex') });
    const missed = await back.frame(0);
    expect(missed.type).toBe(0x11);
    expect(missed.size).toBeLessThan((await s.server.store.crdt.get('Note', 'n1'))!.snapshot.length);
    back.ws.send(encodeCrdtFrame(0x11, 'Note', 'n1', offline.export({ mode: 'update', from: offlineFrom })));
    const expected = 'A:!hello world:B one two';
    await a.waitFor(() => (a.text('n1') === expected ? true : undefined));
    expect(back.text('n1')).toBe(expected);
    expect((await expectConsistent(s, 'n1'))['body']).toBe(expected);
  });

  it('does not echo a push back to the subscriber that sent it; others get it as 0x11', async () => {
    const { s, alice, bob } = await setup();
    const a = await connect(s, alice);
    const b = await connect(s, bob);
    a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
    b.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
    await a.frame(0);
    await b.frame(0);
    a.type('n1', (d) => d.getText('body').insert(0, 'A'));
    expect((await b.frame(1)).type).toBe(0x11);
    expect(b.text('n1')).toBe('Ahello world');
    // A later change reaches both; an echo of a's push would have come before it.
    await s.call('PATCH', '/api/entities/Note/n1', alice, { title: 'next' });
    await b.frame(2);
    expect((await a.frame(1)).type).toBe(0x11);
    expect(a.doc('n1').getMap('row').get('title')).toBe('next');
    expect(a.frames).toHaveLength(2);
    expect(a.text('n1')).toBe('Ahello world');
  });

  it('a client that reports a gap, or names a version the server cannot serve, gets a fresh snapshot', async () => {
    const { s, alice } = await setup();
    const a = await connect(s, alice);
    a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1', vv: 'deadbeef' });
    expect((await a.frame(0)).type).toBe(0x10);
    const ahead = new LoroDoc();
    ahead.import((await s.server.docs.read('Note', 'n1'))!.export({ mode: 'snapshot' }));
    ahead.getText('body').insert(0, 'unpushed ');
    ahead.commit();
    a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1', vv: Buffer.from(ahead.oplogVersion().encode()).toString('hex') });
    expect((await a.frame(1)).type).toBe(0x10);
    a.send({ type: 'crdt-resync', id: 'r1', entity: 'Note', rowId: 'n1' });
    const fresh = await a.frame(2);
    expect(fresh.type).toBe(0x10);
    // After the resync the client converges and gets deltas again.
    await s.call('PATCH', '/api/entities/Note/n1', alice, { body: 'hello again world' });
    const next = await a.frame(3);
    expect(next.type).toBe(0x11);
    expect(next.size).toBeLessThan(fresh.size);
    expect(a.text('n1')).toBe('hello again world');
    a.send({ type: 'crdt-resync', id: 'r2', entity: 'Note', rowId: 'private-not-subscribed' });
    expect(await a.error((m) => m['id'] === 'r2')).toMatchObject({ code: 'UNKNOWN_SUBSCRIPTION' });
  });

  it('keeps syncing after the document was evicted from the cache', async () => {
    const { s, alice } = await setup(1);
    const a = await connect(s, alice);
    a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
    await a.frame(0);
    for (let i = 0; i < 3; i++) await s.call('POST', '/api/entities/Note', alice, { id: `other${i}`, title: 'x', ownerId: 'alice' });
    for (let i = 0; i < 3; i++) await serverDoc(s.server, 'Note', `other${i}`);
    expect(s.server.docs.cacheStats().evictions).toBeGreaterThan(0);
    a.type('n1', (d) => d.getText('body').insert(0, '>'));
    for (let i = 0; i < 200 && (await rowOf(s, 'n1'))['body'] !== '>hello world'; i++) await new Promise((r) => setTimeout(r, 10));
    await s.call('PATCH', '/api/entities/Note/n1', alice, { title: 'renamed' });
    await a.waitFor(() => (a.doc('n1').getMap('row').get('title') === 'renamed' ? true : undefined));
    expect(a.text('n1')).toBe('>hello world');
    // Reloaded from the sidecar, the document still sends deltas, not snapshots.
    expect(a.frames.slice(1).map((f) => f.type)).toEqual([0x11]);
    expect(a.frames[1]!.size).toBeLessThan(a.frames[0]!.size);
    expect(await expectConsistent(s, 'n1')).toMatchObject({ title: 'renamed', body: '>hello world' });
  });

  it('never loses an update to eviction: two clients and REST writes on rows that leave the cache at every step converge, also after a restart', async () => {
    const { s, alice, bob } = await setup(1);
    const ids = ['e0', 'e1', 'e2'];
    for (const id of ids) expect((await s.call('POST', '/api/entities/Note', alice, { id, title: 't', body: '|', ownerId: 'alice', shared: true })).status).toBe(201);
    const a = await connect(s, alice);
    const b = await connect(s, bob);
    for (const c of [a, b]) for (const id of ids) c.send({ type: 'crdt-subscribe', entity: 'Note', rowId: id });
    for (const c of [a, b]) await c.waitFor(() => (c.frames.length >= ids.length ? true : undefined));
    const tokens: string[] = [];
    const evictionsBefore = s.server.docs.cacheStats().evictions;
    for (let round = 0; round < 6; round++) {
      for (const id of ids) {
        // Both type at once, each on its own copy, before seeing the other's edit.
        a.type(id, (d) => d.getText('body').insert(0, `<a${round}>`));
        b.type(id, (d) => d.getText('body').insert(d.getText('body').length, `<b${round}>`));
        tokens.push(`${id}<a${round}>`, `${id}<b${round}>`);
        if (round % 2 === 0) expect((await s.call('PATCH', `/api/entities/Note/${id}`, alice, { title: `t${round}` })).status).toBe(200);
      }
    }
    expect(s.server.docs.cacheStats().evictions - evictionsBefore).toBeGreaterThan(ids.length);
    const complete = (text: string, id: string): boolean => tokens.filter((t) => t.startsWith(id)).every((t) => text.split(t.slice(id.length)).length === 2);
    const finals: Record<string, Record<string, unknown>> = {};
    for (const id of ids) {
      await a.waitFor(() => (complete(a.text(id), id) && a.text(id) === b.text(id) ? true : undefined), 15_000);
      for (let i = 0; i < 300 && (await rowOf(s, id))['body'] !== a.text(id); i++) await new Promise((r) => setTimeout(r, 20));
      finals[id] = await expectConsistent(s, id);
      expect(finals[id]).toMatchObject({ body: a.text(id), title: 't4' });
    }
    // A new server on the same database file: every document reloads with every update.
    await s.server.close();
    const again = await MastServer.create({ appDir: dirname(s.server.config.databaseUrl!), schema: compileManifest(manifest), config: s.server.config });
    cleanups.push(() => again.close());
    for (const id of ids) {
      const doc = await again.docs.read('Note', id);
      expect({ id, ...projectDoc(doc!, again.schema.entity('Note')) }).toEqual(finals[id]);
      expect(complete(doc!.getText('body').toString(), id)).toBe(true);
    }
  });

  it('drops the subscription of a client who can no longer read the row, and of a deleted row', async () => {
    const { s, alice, bob } = await setup();
    const b = await connect(s, bob);
    b.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
    await b.frame(0);
    await s.call('PATCH', '/api/entities/Note/n1', alice, { shared: false, body: 'now private' });
    expect(await b.error()).toMatchObject({ code: 'POLICY_DENIED', entity: 'Note', rowId: 'n1' });
    expect(b.frames).toHaveLength(1);
    expect(b.text('n1')).toBe('hello world');
    const a = await connect(s, alice);
    a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
    await a.frame(0);
    await s.call('DELETE', '/api/entities/Note/n1', ADMIN);
    expect(await a.error()).toMatchObject({ code: 'NOT_FOUND', entity: 'Note', rowId: 'n1' });
    expect(s.server.crdt.size).toBe(0);
  });

  describe('bad input: a precise error, the document and the row unchanged, the socket still served', () => {
    const garbage = Uint8Array.from({ length: 48 }, (_, i) => (i * 53 + 7) & 0xff);
    const cases: Array<{ name: string; who: 'alice' | 'bob' | 'anonymous'; send: (c: CrdtClient) => void; code: string }> = [
      { name: 'a frame whose entity length runs past its end', who: 'alice', send: (c) => c.ws.send(Uint8Array.from([0x11, 0xff, 0xff, 0x41, 0, 0])), code: 'INVALID_MESSAGE' },
      {
        name: 'a frame whose row id length runs past its end',
        who: 'alice',
        send: (c) => c.ws.send(Uint8Array.from([0x11, 0, 4, 0x4e, 0x6f, 0x74, 0x65, 0x00, 0x09, 0x6e])),
        code: 'INVALID_MESSAGE',
      },
      { name: 'a frame type a client does not send', who: 'alice', send: (c) => c.ws.send(encodeCrdtFrame(0x12, 'Note', 'n1', new Uint8Array(0))), code: 'INVALID_MESSAGE' },
      { name: 'random bytes as the update', who: 'alice', send: (c) => c.ws.send(encodeCrdtFrame(0x11, 'Note', 'n1', garbage)), code: 'CRDT_DECODE_FAILED' },
      { name: 'an update from a caller who may not write the row', who: 'bob', send: (c) => c.ws.send(encodeCrdtFrame(0x11, 'Note', 'private', garbage)), code: 'NOT_FOUND' },
      { name: 'an anonymous push', who: 'anonymous', send: (c) => c.ws.send(encodeCrdtFrame(0x11, 'Note', 'n1', garbage)), code: 'AUTH_REQUIRED' },
      { name: 'a push to a non-CRDT entity', who: 'alice', send: (c) => c.ws.send(encodeCrdtFrame(0x11, 'Plain', 'p1', garbage)), code: 'NOT_SUPPORTED' },
      { name: 'a subscribe to a row the caller may not read', who: 'bob', send: (c) => c.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'private' }), code: 'NOT_FOUND' },
      { name: 'a subscribe to a non-CRDT entity', who: 'alice', send: (c) => c.send({ type: 'crdt-subscribe', entity: 'Plain', rowId: 'p1' }), code: 'NOT_SUPPORTED' },
      { name: 'a subscribe without a row id', who: 'alice', send: (c) => c.send({ type: 'crdt-subscribe', entity: 'Note' }), code: 'INVALID_MESSAGE' },
      { name: 'a row id over 65,535 bytes', who: 'alice', send: (c) => c.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'é'.repeat(40_000) }), code: 'INVALID_MESSAGE' },
    ];

    it.each(cases)('$name: $code', async (c) => {
      const { s, alice, bob } = await setup();
      const before = { row: await rowOf(s, 'n1'), snapshot: (await s.server.store.crdt.get('Note', 'n1'))!.snapshot };
      const client = await connect(s, c.who === 'alice' ? alice : c.who === 'bob' ? bob : null);
      c.send(client);
      expect(await client.error()).toMatchObject({ code: c.code });
      expect(await rowOf(s, 'n1')).toEqual(before.row);
      expect((await s.server.store.crdt.get('Note', 'n1'))!.snapshot).toEqual(before.snapshot);
      client.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
      expect((await client.frame(0)).type).toBe(0x10);
    });

    it('a frame over the size limit closes the socket with 1009 and changes nothing', async () => {
      const { s, alice } = await setup();
      const before = { row: await rowOf(s, 'n1'), snapshot: (await s.server.store.crdt.get('Note', 'n1'))!.snapshot };
      const client = await connect(s, alice);
      client.ws.send(encodeCrdtFrame(0x11, 'Note', 'n1', new Uint8Array(MAX_FRAME + 1)));
      expect(await client.closed).toBe(1009);
      expect(await rowOf(s, 'n1')).toEqual(before.row);
      expect((await s.server.store.crdt.get('Note', 'n1'))!.snapshot).toEqual(before.snapshot);
    });
  });
});
