import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Manifest } from '@mast/schema';
import { CrdtClient } from './helpers/crdt-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

// A `json` value nested deeper than a row's CRDT document can hold (DOC_JSON_LIMITS) must be
// refused on every JSON write path, and a row or document that already holds one (written
// before the bound) must fail with JSON_TOO_DEEP, never 500, and be repairable by a write.

const ADMIN = 'admin-token-for-crdt-deep';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'crdt-deep',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Note',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'meta', type: 'json', optional: true, unique: false },
      ],
      indexes: [],
    },
  ],
  policies: [{ name: 'open', entity: 'Note', allow: 'true' }],
};

let t: TestServer;
const admin = { authorization: `Bearer ${ADMIN}` };
const clients: CrdtClient[] = [];

/** `[[[…]]]` nested `depth` levels, built without recursion. */
function nested(depth: number): unknown[] {
  let value: unknown[] = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

async function connect(): Promise<CrdtClient> {
  const client = await CrdtClient.connect(`${t.url.replace('http:', 'ws:')}/ws`, ADMIN);
  clients.push(client);
  return client;
}

async function errorCode(method: string, path: string, body: unknown): Promise<{ status: number; code: string | undefined }> {
  const res = await t.request(method, path, { body, headers: admin });
  return { status: res.status, code: (res.json as { error?: { code: string } } | undefined)?.error?.code };
}

async function rowOf(id: string): Promise<Record<string, unknown>> {
  return (await t.request('GET', `/api/entities/Note/${id}`, { headers: admin })).json as Record<string, unknown>;
}

/** Writes a row the way a server before the bound could have: straight into the store, no checks. */
async function legacyRow(id: string, meta: unknown): Promise<void> {
  await t.server.store.write(async (tx) => {
    await tx.insert('Note', { id, title: 'legacy', meta });
  });
}

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN });
});
afterAll(async () => {
  for (const c of clients) c.ws.close();
  await t.close();
});

it('a JSON write of a value too deep for a document is refused on a row without one and on a row with one', async () => {
  expect(await errorCode('POST', '/api/entities/Note', { id: 'd1', title: 'deep', meta: nested(3000) })).toEqual({ status: 400, code: 'JSON_TOO_DEEP' });
  expect((await t.request('GET', '/api/entities/Note/d1', { headers: admin })).status).toBe(404);

  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'd2', title: 'ok', meta: { a: 1 } }, headers: admin })).status).toBe(201);
  expect(await errorCode('PATCH', '/api/entities/Note/d2', { meta: nested(100) })).toEqual({ status: 400, code: 'JSON_TOO_DEEP' });
  const sub = await connect();
  sub.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'd2' });
  await sub.frame(0);
  expect(await t.server.store.crdt.get('Note', 'd2')).not.toBeNull();
  expect(await errorCode('PATCH', '/api/entities/Note/d2', { meta: nested(3000) })).toEqual({ status: 400, code: 'JSON_TOO_DEEP' });
  expect(await errorCode('POST', '/api/transact', [{ op: 'update', entity: 'Note', id: 'd2', data: { meta: nested(3000) } }])).toEqual({ status: 400, code: 'JSON_TOO_DEEP' });
  // The row still takes ordinary writes, through its document.
  expect((await t.request('PATCH', '/api/entities/Note/d2', { body: { title: 'still fine', meta: [[1]] }, headers: admin })).status).toBe(200);
  expect(await rowOf('d2')).toEqual({ id: 'd2', title: 'still fine', meta: [[1]] });
});

it('a CRDT push that puts a value too deep into the document is refused and changes nothing', async () => {
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'p1', title: 'push', meta: null }, headers: admin })).status).toBe(201);
  const client = await connect();
  client.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'p1' });
  await client.frame(0);
  client.type('p1', (doc) => doc.getMap('row').set('meta', nested(3000) as never));
  expect(await client.error((m) => m['rowId'] === 'p1')).toMatchObject({ code: 'JSON_TOO_DEEP' });
  expect(await rowOf('p1')).toEqual({ id: 'p1', title: 'push', meta: null });
  expect((await t.request('PATCH', '/api/entities/Note/p1', { body: { title: 'after' }, headers: admin })).status).toBe(200);
});

it('a row already holding a value too deep refuses to materialise a document, cleanly, and a JSON write repairs it', async () => {
  await legacyRow('old1', nested(3000));
  const client = await connect();
  client.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'old1' });
  expect(await client.error((m) => m['rowId'] === 'old1')).toMatchObject({ code: 'JSON_TOO_DEEP' });
  expect(await t.server.store.crdt.get('Note', 'old1')).toBeNull();
  // Without a document, writes to the row work; replacing the value lets the document be made.
  expect((await t.request('PATCH', '/api/entities/Note/old1', { body: { title: 'renamed' }, headers: admin })).status).toBe(200);
  expect((await t.request('PATCH', '/api/entities/Note/old1', { body: { meta: { fixed: true } }, headers: admin })).status).toBe(200);
  client.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'old1' });
  expect((await client.frame(0)).rowId).toBe('old1');
  expect(await rowOf('old1')).toEqual({ id: 'old1', title: 'renamed', meta: { fixed: true } });
});

it('a document already holding a value too deep answers JSON_TOO_DEEP to other writes, and a write of that field repairs it', async () => {
  await legacyRow('old2', null);
  await t.server.docs.materialize(t.server.schema.entity('Note'), 'old2');
  // As a server before the bound would have stored it: the value in the document and the row.
  const stage = t.server.docs.stage();
  await t.server.store.write(async (tx) => {
    const doc = await stage.open(tx, t.server.schema.entity('Note'), 'old2', null);
    doc.getMap('row').set('meta', nested(3000) as never);
    doc.commit();
    await tx.update('Note', 'old2', { meta: nested(3000) });
    await stage.save(tx, 'Note', 'old2', doc);
  });
  stage.commit();

  expect(await errorCode('PATCH', '/api/entities/Note/old2', { title: 'x' })).toEqual({ status: 400, code: 'JSON_TOO_DEEP' });
  expect((await t.request('PATCH', '/api/entities/Note/old2', { body: { meta: 'repaired' }, headers: admin })).status).toBe(200);
  expect((await t.request('PATCH', '/api/entities/Note/old2', { body: { title: 'x' }, headers: admin })).status).toBe(200);
  expect(await rowOf('old2')).toEqual({ id: 'old2', title: 'x', meta: 'repaired' });
});
