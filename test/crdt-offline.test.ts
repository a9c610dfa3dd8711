import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeImportBlobMeta, LoroDoc, VersionVector } from 'loro-crdt';
import { encodeCrdtFrame } from '@mast/protocol';
import type { Manifest } from '@mast/schema';
import { projectDoc } from '@mast/server';
import { CrdtClient } from './helpers/crdt-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const ADMIN = 'admin-token-for-crdt-offline';
const OWNER = 'auth.userId == data.ownerId';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'crdt-offline',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Note',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'body', type: 'richtext', optional: true, unique: false },
        { name: 'ownerId', type: 'string', optional: false, unique: false },
      ],
      indexes: [],
    },
  ],
  policies: [{ name: 'note_rules', entity: 'Note', allowRead: 'true', allowInsert: 'auth.userId != null', allowUpdate: 'auth.userId != null' }],
};

let t: TestServer;
let alice: string;
let bob: string;
const wsUrl = (): string => `${t.url.replace('http:', 'ws:')}/ws`;
const as = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function mint(userId: string): Promise<string> {
  return ((await t.request('POST', '/api/auth/session', { body: { user_id: userId }, headers: as(ADMIN) })).json as { token: string }).token;
}

async function push(token: string, id: string, update: Uint8Array): Promise<{ status: number; json: any }> {
  const res = await fetch(`${t.url}/api/crdt/Note/${id}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...as(token) }, body: update });
  return { status: res.status, json: await res.json() };
}

/** The SQL row, the stored snapshot, and the server document's projection (null while the row has no document). */
async function state(id: string): Promise<{ row: Record<string, unknown>; snapshot: string | null; projected: Record<string, unknown> | null }> {
  const row = (await t.request('GET', `/api/entities/Note/${id}`, { headers: as(ADMIN) })).json as Record<string, unknown>;
  const stored = await t.server.store.crdt.get('Note', id);
  const doc = await t.server.docs.read('Note', id);
  return { row, snapshot: stored ? Buffer.from(stored.snapshot).toString('hex') : null, projected: doc ? { id, ...projectDoc(doc, t.server.schema.entity('Note')) } : null };
}

/** A document a client creates by itself, offline, for a row that does not exist yet. */
function createdOffline(values: { title: string; body: string; ownerId: string }): LoroDoc {
  const doc = new LoroDoc();
  doc.getMap('row').set('title', values.title);
  doc.getMap('row').set('ownerId', values.ownerId);
  doc.getText('body').insert(0, values.body);
  doc.commit();
  return doc;
}

/**
 * What a client does with a document the server refused as an unrelated history: redo its
 * content as edits on the row's document (LWW keys that differ are set, text is diffed).
 */
function redoOn(row: LoroDoc, local: LoroDoc): Uint8Array {
  const from = row.oplogVersion();
  for (const [key, value] of Object.entries(local.getMap('row').toJSON() as Record<string, unknown>)) {
    if (row.getMap('row').get(key) !== value) row.getMap('row').set(key, value as never);
  }
  row.getText('body').update(local.getText('body').toString());
  row.commit();
  return row.export({ mode: 'update', from });
}

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN });
  alice = await mint('alice');
  bob = await mint('bob');
});
afterAll(async () => {
  await t.close();
});

it('two clients that create the same row offline: the first creation wins, the other document is refused unchanged, redone on the row and converges without duplicated text', async () => {
  const aliceDoc = createdOffline({ title: 'Groceries', body: 'milk, eggs', ownerId: 'alice' });
  const bobDoc = createdOffline({ title: 'Groceries', body: 'milk, eggs, bread', ownerId: 'alice' });
  // Alice is back first: her row is created from its JSON values (the server's document).
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'g1', title: 'Groceries', body: 'milk, eggs', ownerId: 'alice' }, headers: as(alice) })).status).toBe(201);
  const created = await state('g1');
  // A JSON insert stores no document; a push materialises one from the row first, so the rule
  // below is the same as for a row whose document exists, and a refused push stores none.
  expect(created.snapshot).toBeNull();
  // Bob's insert of the same id is a conflict; his document and Alice's own offline one are
  // independent of the row's and would concatenate into it ("milk, eggsmilk, eggs, bread").
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'g1', title: 'Groceries', body: 'milk, eggs, bread', ownerId: 'alice' }, headers: as(bob) })).status).toBe(
    409,
  );
  for (const [token, doc] of [
    [alice, aliceDoc],
    [bob, bobDoc],
  ] as const) {
    const refused = await push(token, 'g1', doc.export({ mode: 'update' }));
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('CRDT_UNRELATED_HISTORY');
    expect(await state('g1')).toEqual(created);
  }
  // The same over the socket, with the snapshot of the unrelated document.
  const socket = await CrdtClient.connect(wsUrl(), bob);
  socket.ws.send(encodeCrdtFrame(0x10, 'Note', 'g1', bobDoc.export({ mode: 'snapshot' })));
  expect(await socket.error()).toMatchObject({ code: 'CRDT_UNRELATED_HISTORY', entity: 'Note', rowId: 'g1' });
  expect(await state('g1')).toEqual(created);
  // Once the row has a document (a subscriber materialised it), the same push is refused too.
  const first = await CrdtClient.connect(wsUrl(), alice);
  first.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'g1' });
  await first.frame(0);
  first.ws.close();
  const materialised = await state('g1');
  expect(materialised.projected).toEqual(created.row);
  socket.ws.send(encodeCrdtFrame(0x10, 'Note', 'g1', bobDoc.export({ mode: 'snapshot' })));
  expect(await socket.waitFor(() => socket.messages.filter((m) => m['type'] === 'error')[1])).toMatchObject({ code: 'CRDT_UNRELATED_HISTORY', entity: 'Note', rowId: 'g1' });
  expect(await state('g1')).toEqual(materialised);

  // Both subscribe, load the row's document and redo their offline content on it.
  const a = await CrdtClient.connect(wsUrl(), alice);
  a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'g1' });
  socket.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'g1' });
  await a.frame(0);
  await socket.frame(0);
  expect(redoOn(a.doc('g1'), aliceDoc).length).toBeGreaterThan(0);
  const bobUpdate = redoOn(socket.doc('g1'), bobDoc);
  expect((await push(bob, 'g1', bobUpdate)).status).toBe(200);
  const expected = 'milk, eggs, bread';
  await a.waitFor(() => (a.text('g1') === expected ? true : undefined));
  const merged = await state('g1');
  expect(merged.row).toEqual({ id: 'g1', title: 'Groceries', body: expected, ownerId: 'alice' });
  expect(merged.projected).toEqual(merged.row);
  // Later concurrent typing by both merges as usual.
  a.type('g1', (d) => d.getText('body').insert(0, '- '));
  socket.type('g1', (d) => d.getText('body').insert(d.getText('body').length, ', tea'));
  const final = '- milk, eggs, bread, tea';
  await a.waitFor(() => (a.text('g1') === final ? true : undefined));
  await socket.waitFor(() => (socket.text('g1') === final ? true : undefined));
  const end = await state('g1');
  expect(end.row['body']).toBe(final);
  expect(end.projected).toEqual(end.row);
  for (const c of [a, socket]) c.ws.close();
});

it('CRDT_MISSING_DEPENDENCIES: a client whose earlier push was lost re-sends everything since the last version it received, and converges', async () => {
  expect((await t.request('POST', '/api/entities/Note', { body: { id: 'm1', title: 'Draft', body: 'one', ownerId: 'alice' }, headers: as(alice) })).status).toBe(201);
  const a = await CrdtClient.connect(wsUrl(), alice);
  const b = await CrdtClient.connect(wsUrl(), bob);
  // What the client received from the server: the union of the end versions of its frames.
  let received = new VersionVector(null);
  a.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'm1' });
  b.send({ type: 'crdt-subscribe', entity: 'Note', rowId: 'm1' });
  await a.frame(0);
  await b.frame(0);
  received = mergeVersions(received, a.frames[0]!.payload);
  // The first edit's push is lost (never sent); the second is pushed alone.
  a.type('m1', (d) => d.getText('body').insert(3, ' two'), false);
  const before = await state('m1');
  a.type('m1', (d) => d.getText('body').insert(7, ' three'));
  expect(await a.error()).toMatchObject({ code: 'CRDT_MISSING_DEPENDENCIES', entity: 'Note', rowId: 'm1' });
  expect(await state('m1')).toEqual(before);
  // The retry: everything since what the server is known to hold (ops it has are ignored).
  a.ws.send(encodeCrdtFrame(0x11, 'Note', 'm1', a.doc('m1').export({ mode: 'update', from: received })));
  await b.waitFor(() => (b.text('m1') === 'one two three' ? true : undefined));
  const after = await state('m1');
  expect(after.row['body']).toBe('one two three');
  expect(after.projected).toEqual(after.row);
  expect(a.messages.filter((m) => m['type'] === 'error')).toHaveLength(1);
  for (const c of [a, b]) c.ws.close();
});

/** `version` extended by the end version of a Loro blob. */
function mergeVersions(version: VersionVector, blob: Uint8Array): VersionVector {
  const merged = version.toJSON();
  for (const [peer, counter] of decodeImportBlobMeta(blob, false).partialEndVersionVector.toJSON()) {
    if ((merged.get(peer) ?? 0) < counter) merged.set(peer, counter);
  }
  return new VersionVector(merged);
}
