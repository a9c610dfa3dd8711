import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoroDoc } from 'loro-crdt';
import type { Manifest } from '@mast/schema';
import { projectDoc } from '@mast/server';
import { CrdtClient, serverDoc } from './helpers/crdt-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const ADMIN = 'admin-token-for-crdt-push';
const OWNER = 'auth.userId == data.ownerId';
const BODY_LIMIT = 64 * 1024;

const manifest: Manifest = {
  manifest_version: 1,
  name: 'crdt-push',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Note',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'body', type: 'richtext', optional: true, unique: false },
        { name: 'ownerId', type: 'string', optional: false, unique: false },
        { name: 'likes', type: 'int', optional: true, unique: false, crdt: 'counter' },
      ],
      indexes: [],
    },
    { name: 'Plain', crdt: false, fields: [{ name: 'body', type: 'string', optional: true, unique: false }], indexes: [] },
  ],
  policies: [
    { name: 'note_owner', entity: 'Note', allowRead: 'true', allowInsert: OWNER, allowUpdate: OWNER },
    { name: 'plain_open', entity: 'Plain', allow: 'true' },
  ],
};

let t: TestServer;
let alice: string;
let bob: string;
const as = (token: string | null): Record<string, string> => (token === null ? {} : { authorization: `Bearer ${token}` });
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

async function mint(userId: string): Promise<string> {
  const res = await t.request('POST', '/api/auth/session', { body: { user_id: userId }, headers: as(ADMIN) });
  return (res.json as { token: string }).token;
}

/** A client's copy of a row's document, as a subscriber would hold it. */
async function clientDoc(id: string): Promise<LoroDoc> {
  const doc = new LoroDoc();
  doc.import((await serverDoc(t.server, 'Note', id))!.export({ mode: 'snapshot' }));
  return doc;
}

/** An update of `edit` made on a fresh client copy of the row. */
async function edit(id: string, change: (doc: LoroDoc) => void): Promise<Uint8Array> {
  const doc = await clientDoc(id);
  const from = doc.oplogVersion();
  change(doc);
  doc.commit();
  return doc.export({ mode: 'update', from });
}

async function pushRaw(path: string, bytes: Uint8Array, token: string | null): Promise<{ status: number; json: any }> {
  const res = await fetch(t.url + path, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...as(token) }, body: bytes });
  return { status: res.status, json: await res.json() };
}

async function state(id: string): Promise<{ row: unknown; snapshot: string | null }> {
  const row = (await t.request('GET', `/api/entities/Note/${id}`, { headers: as(alice) })).json;
  const stored = await t.server.store.crdt.get('Note', id);
  return { row, snapshot: stored ? hex(stored.snapshot) : null };
}

async function expectConsistent(id: string): Promise<void> {
  const { row } = await state(id);
  const doc = await serverDoc(t.server, 'Note', id);
  expect({ id, ...projectDoc(doc!, t.server.schema.entity('Note')) }).toEqual(row);
}

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN, bodyLimit: BODY_LIMIT });
  alice = await mint('alice');
  bob = await mint('bob');
  const res = await t.request('POST', '/api/entities/Note', { body: { id: 'n1', title: 'Note', body: 'hello', ownerId: 'alice', likes: 1 }, headers: as(alice) });
  expect(res.status, res.text).toBe(201);
  await t.request('POST', '/api/entities/Plain', { body: { id: 'p1', body: 'x' }, headers: as(alice) });
});
afterAll(async () => {
  await t.close();
});

describe('POST /api/crdt/<entity>/<id>', () => {
  it("merges Pylon's hex body, projects the row, logs the change and answers its seq", async () => {
    const update = await edit('n1', (doc) => {
      doc.getText('body').insert(5, ' world');
      doc.getCounter('likes').increment(2);
    });
    const res = await t.request('POST', '/api/crdt/Note/n1', { body: { update: hex(update).toUpperCase() }, headers: as(alice) });
    expect(res.status, res.text).toBe(200);
    const seq = (res.json as { seq: number }).seq;
    expect(res.json).toEqual({ ok: true, seq: expect.any(Number) });
    expect((await state('n1')).row).toMatchObject({ body: 'hello world', likes: 3 });
    const pull = (await t.request('GET', `/api/sync/pull?since=${seq - 1}`, { headers: as(alice) })).json as { changes: Array<{ seq: number; kind: string; data: unknown }> };
    expect(pull.changes[0]).toMatchObject({ seq, kind: 'update', data: { id: 'n1', body: 'hello world', likes: 3 } });
    await expectConsistent('n1');
  });

  it('takes raw application/octet-stream bytes; a repeated update changes nothing and answers seq 0', async () => {
    const update = await edit('n1', (doc) => doc.getText('body').insert(0, '> '));
    const first = await pushRaw('/api/crdt/Note/n1', update, alice);
    expect(first.status).toBe(200);
    expect(first.json.seq).toBeGreaterThan(0);
    const before = await state('n1');
    const again = await pushRaw('/api/crdt/Note/n1', update, alice);
    expect(again.json).toEqual({ ok: true, seq: 0 });
    expect(await state('n1')).toEqual(before);
  });

  it('keeps REST writes and pushes to the same row consistent', async () => {
    for (let i = 0; i < 5; i++) {
      const update = await edit('n1', (doc) => doc.getText('body').insert(doc.getText('body').length, `+${i}`));
      await t.request('PATCH', '/api/entities/Note/n1', { body: { title: `title ${i}`, likes: 10 + i }, headers: as(alice) });
      expect((await pushRaw('/api/crdt/Note/n1', update, alice)).status).toBe(200);
    }
    const { row } = await state('n1');
    expect(row).toMatchObject({ title: 'title 4', likes: 14 });
    expect((row as { body: string }).body.endsWith('+0+1+2+3+4')).toBe(true);
    await expectConsistent('n1');
  });

  const randomBytes = Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff);
  const cases: Array<{ name: string; path?: string; token: () => string | null; body: () => Promise<{ json: unknown } | { raw: Uint8Array }>; status: number; code: string }> = [
    {
      name: 'anonymous',
      token: () => null,
      body: async () => ({ json: { update: hex(await edit('n1', (d) => d.getText('body').insert(0, 'x'))) } }),
      status: 401,
      code: 'AUTH_REQUIRED',
    },
    { name: 'unknown entity', path: '/api/crdt/Nope/n1', token: () => alice, body: async () => ({ json: { update: '00' } }), status: 400, code: 'ENTITY_NOT_FOUND' },
    { name: 'crdt:false entity', path: '/api/crdt/Plain/p1', token: () => alice, body: async () => ({ json: { update: '00' } }), status: 400, code: 'NOT_SUPPORTED' },
    { name: 'no update', token: () => alice, body: async () => ({ json: { updates: '00' } }), status: 400, code: 'MISSING_UPDATE' },
    { name: 'non-hex', token: () => alice, body: async () => ({ json: { update: 'zz' } }), status: 400, code: 'INVALID_HEX' },
    { name: 'odd-length hex', token: () => alice, body: async () => ({ json: { update: 'abc' } }), status: 400, code: 'INVALID_HEX' },
    { name: 'random bytes as hex', token: () => alice, body: async () => ({ json: { update: hex(randomBytes) } }), status: 400, code: 'CRDT_DECODE_FAILED' },
    { name: 'random raw bytes', token: () => alice, body: async () => ({ raw: randomBytes }), status: 400, code: 'CRDT_DECODE_FAILED' },
    { name: 'empty raw body', token: () => alice, body: async () => ({ raw: new Uint8Array(0) }), status: 400, code: 'CRDT_DECODE_FAILED' },
    {
      name: 'row not found',
      path: '/api/crdt/Note/missing',
      token: () => alice,
      body: async () => ({ json: { update: hex(await edit('n1', (d) => d.getText('body').insert(0, 'x'))) } }),
      status: 404,
      code: 'NOT_FOUND',
    },
    {
      name: 'caller may not update the row',
      token: () => bob,
      body: async () => ({ json: { update: hex(await edit('n1', (d) => d.getText('body').insert(0, 'x'))) } }),
      status: 403,
      code: 'POLICY_DENIED',
    },
    {
      name: 'the merged row fails the update rule',
      token: () => alice,
      body: async () => ({ raw: await edit('n1', (d) => d.getMap('row').set('ownerId', 'bob')) }),
      status: 403,
      code: 'POLICY_DENIED',
    },
    {
      name: 'the merged row has a wrong type',
      token: () => alice,
      body: async () => ({ raw: await edit('n1', (d) => d.getMap('row').set('title', 42)) }),
      status: 400,
      code: 'INVALID_FIELD_TYPE',
    },
    {
      name: 'a required field removed',
      token: () => alice,
      body: async () => ({ raw: await edit('n1', (d) => d.getMap('row').delete('title')) }),
      status: 400,
      code: 'MISSING_FIELD',
    },
    {
      name: 'an update whose dependencies the server lacks',
      token: () => alice,
      body: async () => {
        const doc = await clientDoc('n1');
        doc.getText('body').insert(0, 'a');
        doc.commit();
        const middle = doc.oplogVersion();
        doc.getText('body').insert(0, 'b');
        doc.commit();
        return { raw: doc.export({ mode: 'update', from: middle }) };
      },
      status: 409,
      code: 'CRDT_MISSING_DEPENDENCIES',
    },
    { name: 'over the size limit', token: () => alice, body: async () => ({ raw: new Uint8Array(BODY_LIMIT + 1) }), status: 413, code: 'PAYLOAD_TOO_LARGE' },
  ];

  it.each(cases)('$name: $status $code, and the document and row are unchanged', async (c) => {
    const before = await state('n1');
    const body = await c.body();
    const path = c.path ?? '/api/crdt/Note/n1';
    const res = 'raw' in body ? await pushRaw(path, body.raw, c.token()) : await t.request('POST', path, { body: body.json, headers: as(c.token()) });
    expect(res.status, JSON.stringify(res.json)).toBe(c.status);
    expect((res.json as { error: { code: string } }).error.code).toBe(c.code);
    expect(await state('n1')).toEqual(before);
    await expectConsistent('n1');
  });

  it('a row id over 65,535 bytes never reaches the route: 431, nothing changed, the server still serves', async () => {
    const before = await state('n1');
    const update = await edit('n1', (d) => d.getText('body').insert(0, 'x'));
    const res = await fetch(`${t.url}/api/crdt/Note/${'x'.repeat(70_000)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', ...as(alice) },
      body: update,
    });
    expect(res.status).toBe(431);
    expect(await state('n1')).toEqual(before);
    expect((await pushRaw('/api/crdt/Note/n1', update, alice)).status).toBe(200);
  });
});

describe('pushes over the socket', () => {
  it('an update from a caller who may read the row but not write it: POLICY_DENIED naming the row, the document and row unchanged', async () => {
    const before = await state('n1');
    const socket = await CrdtClient.connect(`${t.url.replace('http:', 'ws:')}/ws`, bob);
    try {
      socket.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'n1' });
      await socket.frame(0);
      socket.type('n1', (d) => d.getText('body').insert(0, 'bob was here '));
      expect(await socket.error()).toMatchObject({ code: 'POLICY_DENIED', entity: 'Note', rowId: 'n1' });
      expect(await state('n1')).toEqual(before);
      await expectConsistent('n1');
    } finally {
      socket.ws.close();
    }
  });
});
