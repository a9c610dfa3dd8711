import { afterAll, beforeAll, expect, it } from 'vitest';
import { LoroDoc } from 'loro-crdt';
import { encodeCrdtFrame } from '@mast/protocol';
import type { Manifest } from '@mast/schema';
import { projectDoc } from '@mast/server';
import { CrdtClient } from './helpers/crdt-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const ADMIN = 'admin-token-for-crdt-lazy';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'crdt-lazy',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Note',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'body', type: 'richtext', optional: true, unique: false },
        { name: 'likes', type: 'int', optional: true, unique: false, crdt: 'counter' },
        { name: 'tags', type: 'json', optional: true, unique: false, crdt: 'list' },
        { name: 'outline', type: 'json', optional: true, unique: false, crdt: 'tree' },
        { name: 'rank', type: 'float', optional: true, unique: false },
      ],
      indexes: [],
    },
  ],
  policies: [{ name: 'open', entity: 'Note', allow: 'true' }],
};

let t: TestServer;
const admin = { authorization: `Bearer ${ADMIN}` };
const wsUrl = (): string => `${t.url.replace('http:', 'ws:')}/ws`;
const clients: CrdtClient[] = [];

async function connect(): Promise<CrdtClient> {
  const client = await CrdtClient.connect(wsUrl(), ADMIN);
  clients.push(client);
  return client;
}

async function rowOf(id: string): Promise<Record<string, unknown>> {
  return (await t.request('GET', `/api/entities/Note/${id}`, { headers: admin })).json as Record<string, unknown>;
}

const projected = (doc: LoroDoc, id: string): Record<string, unknown> => ({ id, ...projectDoc(doc, t.server.schema.entity('Note')) });

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN });
});
afterAll(async () => {
  for (const c of clients) c.ws.close();
  await t.close();
});

it('a JSON insert and update store only the row; a later subscribe materialises the document from it and stores it', async () => {
  const insert = await t.request('POST', '/api/entities/Note', { body: { id: 'n1', title: 'Plan', body: 'hello', likes: 3, tags: ['a', 'b'], rank: 1.5 }, headers: admin });
  expect(insert.status, insert.text).toBe(201);
  expect(await t.server.store.crdt.get('Note', 'n1')).toBeNull();
  expect((await t.request('PATCH', '/api/entities/Note/n1', { body: { body: 'hello world', likes: 4 }, headers: admin })).status).toBe(200);
  expect((await t.request('POST', '/api/transact', { body: [{ op: 'update', entity: 'Note', id: 'n1', data: { tags: ['a'] } }], headers: admin })).status).toBe(200);
  expect(await t.server.store.crdt.get('Note', 'n1')).toBeNull();
  expect(await t.server.docs.read('Note', 'n1')).toBeNull();

  const a = await connect();
  a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
  expect(await a.frame(0)).toMatchObject({ type: 0x10, entity: 'Note', rowId: 'n1' });
  const row = await rowOf('n1');
  expect(row).toEqual({ id: 'n1', title: 'Plan', body: 'hello world', likes: 4, tags: ['a'], outline: null, rank: 1.5 });
  expect(projected(a.doc('n1'), 'n1')).toEqual(row);
  // Stored: what the subscriber got is the row's document from now on.
  const stored = await t.server.store.crdt.get('Note', 'n1');
  expect(stored).not.toBeNull();
  const reloaded = new LoroDoc();
  reloaded.import(stored!.snapshot);
  expect(reloaded.oplogVersion().compare(a.doc('n1').oplogVersion())).toBe(0);
});

it('a JSON update of a row that has a document goes through it: subscribers get a 0x11 delta and row and document agree', async () => {
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'n2', title: 'Draft', body: 'one' }, headers: admin })).status).toBe(201);
  const a = await connect();
  a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n2' });
  await a.frame(0);
  expect((await t.request('PATCH', '/api/entities/Note/n2', { body: { body: 'one two', likes: 2 }, headers: admin })).status).toBe(200);
  const delta = await a.frame(1);
  expect(delta.type).toBe(0x11);
  expect(delta.size).toBeLessThan(a.frames[0]!.size);
  expect(a.text('n2')).toBe('one two');
  const row = await rowOf('n2');
  expect(row).toMatchObject({ body: 'one two', likes: 2 });
  expect(projected(a.doc('n2'), 'n2')).toEqual(row);
  expect(projected((await t.server.docs.read('Note', 'n2'))!, 'n2')).toEqual(row);
  // A client edit made on the materialised seed merges into the same history.
  a.type('n2', (d) => d.getText('body').insert(0, '> '));
  for (let i = 0; i < 200 && (await rowOf('n2'))['body'] !== '> one two'; i++) await new Promise((r) => setTimeout(r, 10));
  expect((await rowOf('n2'))['body']).toBe('> one two');
});

it('concurrent first subscribes and a push on a row without a document all build on one stored document', async () => {
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'n3', title: 'Race', body: 'base' }, headers: admin })).status).toBe(201);
  const subscribers = await Promise.all([connect(), connect(), connect()]);
  // A document made by a client apart from the row, pushed while the subscribes run.
  const offline = new LoroDoc();
  offline.getText('body').insert(0, 'offline');
  offline.commit();
  const pushed = fetch(`${t.url}/api/crdt/Note/n3`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/octet-stream' },
    body: offline.export({ mode: 'update' }),
  });
  for (const c of subscribers) c.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n3' });
  const push = await pushed;
  expect(push.status).toBe(409);
  expect(((await push.json()) as { error: { code: string } }).error.code).toBe('CRDT_UNRELATED_HISTORY');
  for (const c of subscribers) expect((await c.frame(0)).type).toBe(0x10);
  const stored = new LoroDoc();
  stored.import((await t.server.store.crdt.get('Note', 'n3'))!.snapshot);
  for (const c of subscribers) expect(c.doc('n3').oplogVersion().compare(stored.oplogVersion())).toBe(0);
  // Each edits its copy of the seed: every push is accepted and all converge.
  for (const [i, c] of subscribers.entries()) c.type('n3', (d) => d.getText('body').insert(d.getText('body').length, `<${i}>`));
  for (const c of subscribers) await c.waitFor(() => (['<0>', '<1>', '<2>'].every((m) => c.text('n3').includes(m)) ? true : undefined));
  for (const c of subscribers) expect(c.messages.filter((m) => m['type'] === 'error')).toEqual([]);
  expect(new Set(subscribers.map((c) => c.text('n3'))).size).toBe(1);
  for (let i = 0; i < 200 && (await rowOf('n3'))['body'] !== subscribers[0]!.text('n3'); i++) await new Promise((r) => setTimeout(r, 10));
  expect((await rowOf('n3'))['body']).toBe(subscribers[0]!.text('n3'));
});

it('concurrent first pushes of unrelated documents to a row without one are all refused and store none; subscribers then share one seed', async () => {
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'n4', title: 'Pushes', body: 'x' }, headers: admin })).status).toBe(201);
  // Pushes of edits built on nothing the server holds: all refused, none leaves a document behind.
  const unrelated = [0, 1, 2].map((i) => {
    const doc = new LoroDoc();
    doc.getText('body').insert(0, `offline ${i}`);
    doc.commit();
    return doc.export({ mode: 'update' });
  });
  const results = await Promise.all(
    unrelated.map((bytes) => fetch(`${t.url}/api/crdt/Note/n4`, { method: 'POST', headers: { ...admin, 'content-type': 'application/octet-stream' }, body: bytes })),
  );
  expect(results.map((r) => r.status)).toEqual([409, 409, 409]);
  expect(await t.server.store.crdt.get('Note', 'n4')).toBeNull();
  // Subscribers then materialise one seed, and a push built on it applies.
  const a = await connect();
  const b = await connect();
  a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n4' });
  b.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n4' });
  await a.frame(0);
  await b.frame(0);
  expect(a.doc('n4').oplogVersion().compare(b.doc('n4').oplogVersion())).toBe(0);
  const update = a.type('n4', (d) => d.getText('body').insert(1, 'y'), false);
  const res = await fetch(`${t.url}/api/crdt/Note/n4`, { method: 'POST', headers: { ...admin, 'content-type': 'application/octet-stream' }, body: update });
  expect(res.status).toBe(200);
  await b.waitFor(() => (b.text('n4') === 'xy' ? true : undefined));
});

it('a JSON write a document could not hold is refused on a row without one, and nothing is written', async () => {
  const res = await t.request('POST', '/api/entities/Note', { body: { id: 'bad', title: 'Tree', outline: [{ id: 'x' }] }, headers: admin });
  expect(res.status).toBe(400);
  expect((res.json as { error: { code: string } }).error.code).toBe('CRDT_FIELD_UNSUPPORTED');
  expect((await t.request('GET', '/api/entities/Note/bad', { headers: admin })).status).toBe(404);
  expect((await t.request('PATCH', '/api/entities/Note/n1', { body: { outline: { a: 1 } }, headers: admin })).status).toBe(400);
  expect((await rowOf('n1'))['outline']).toBeNull();
});

it('a delete of a row that never had a document, and of one that had, leaves none; an insert of the same id starts without one', async () => {
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'd1', title: 'gone' }, headers: admin })).status).toBe(201);
  expect((await t.request('DELETE', '/api/entities/Note/d1', { headers: admin })).status).toBe(200);
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'd1', title: 'again' }, headers: admin })).status).toBe(201);
  const a = await connect();
  a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'd1' });
  await a.frame(0);
  expect(await t.server.store.crdt.get('Note', 'd1')).not.toBeNull();
  expect((await t.request('DELETE', '/api/entities/Note/d1', { headers: admin })).status).toBe(200);
  expect(await a.error()).toMatchObject({ code: 'NOT_FOUND', entity: 'Note', rowId: 'd1' });
  expect(await t.server.store.crdt.get('Note', 'd1')).toBeNull();
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'd1', title: 'third' }, headers: admin })).status).toBe(201);
  expect(await t.server.store.crdt.get('Note', 'd1')).toBeNull();
  const b = await connect();
  b.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'd1' });
  await b.frame(0);
  expect(projected(b.doc('d1'), 'd1')).toEqual(await rowOf('d1'));
});

it('a socket push of a snapshot to a row without a document materialises it first, and the unrelated-history rule holds', async () => {
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 's1', title: 'Socket' }, headers: admin })).status).toBe(201);
  const c = await connect();
  const own = new LoroDoc();
  own.getMap('row').set('title', 'Mine');
  own.commit();
  c.ws.send(encodeCrdtFrame(0x10, 'Note', 's1', own.export({ mode: 'snapshot' })));
  expect(await c.error()).toMatchObject({ code: 'CRDT_UNRELATED_HISTORY', entity: 'Note', rowId: 's1' });
  expect((await rowOf('s1'))['title']).toBe('Socket');
});
