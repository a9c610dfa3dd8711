import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LoroDoc } from 'loro-crdt';
import { decodeCrdtFrame, encodeCrdtFrame } from '@mast/protocol';
import { compileManifest, type Manifest } from '@mast/schema';
import { MastServer, loadConfig, projectDoc } from '@mast/server';

const ADMIN = 'admin-token-for-crdt-containers';
const manifest: Manifest = {
  manifest_version: 1,
  name: 'crdt-containers',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Board',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false, crdt: 'text' },
        { name: 'likes', type: 'int', optional: true, unique: false, crdt: 'counter' },
        { name: 'tags', type: 'json', optional: true, unique: false, crdt: 'list' },
        { name: 'order', type: 'json', optional: true, unique: false, crdt: 'movable-list' },
        { name: 'outline', type: 'json', optional: true, unique: false, crdt: 'tree' },
        { name: 'notes', type: 'richtext', optional: true, unique: false },
        { name: 'owner', type: 'string', optional: true, unique: false },
        { name: 'score', type: 'float', optional: true, unique: false },
        { name: 'rank', type: 'int', optional: true, unique: false },
        { name: 'done', type: 'bool', optional: true, unique: false },
        { name: 'due', type: 'datetime', optional: true, unique: false },
        { name: 'parent', type: 'id(Board)', optional: true, unique: false },
      ],
      indexes: [],
    },
  ],
  policies: [{ name: 'open', entity: 'Board', allow: 'true' }],
};

const dir = mkdtempSync(join(tmpdir(), 'mast-crdt-containers-'));
let server: MastServer;
let port = 0;

async function boot(): Promise<void> {
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dir, 'db.sqlite'), adminToken: ADMIN });
  server = await MastServer.create({ appDir: dir, schema: compileManifest(manifest), config });
  port = await server.listen();
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** A socket holding the row's document, applying every frame it receives. */
async function subscriber(): Promise<{ ws: WebSocket; doc: LoroDoc; frames: number[]; until: (ok: () => boolean) => Promise<void> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const doc = new LoroDoc();
  const frames: number[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const decoded = decodeCrdtFrame(new Uint8Array(data as Buffer));
    if (decoded.ok) {
      doc.import(decoded.frame.payload);
      frames.push(decoded.frame.type);
    }
  });
  await new Promise((resolve) => ws.once('open', resolve));
  ws.send(JSON.stringify({ type: 'crdt-subscribe', entity: 'Board', rowId: 'b1' }));
  const until = async (ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ok()).toBe(true);
  };
  await until(() => frames.length > 0);
  return { ws, doc, frames, until };
}

const projected = (doc: LoroDoc): Record<string, unknown> => ({ id: 'b1', ...projectDoc(doc, server.schema.entity('Board')) });

beforeAll(boot);
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

it('every container kind and LWW scalar round-trips through REST, the socket and a restart', async () => {
  const scalars = { notes: 'rich', owner: 'ann', score: 1.5, rank: 3, done: false, due: '2026-01-02T03:04:05.000Z', parent: null };
  expect((await call('POST', '/api/entities/Board', { id: 'b1', title: 'Plan', likes: 1, tags: ['a'], order: ['x', 'y'], outline: null, ...scalars })).status).toBe(201);
  const client = await subscriber();
  expect(projected(client.doc)).toEqual({ id: 'b1', title: 'Plan', likes: 1, tags: ['a'], order: ['x', 'y'], outline: null, ...scalars });

  // Edits made with Loro on the client, pushed as one binary frame.
  const from = client.doc.oplogVersion();
  client.doc.getText('title').insert(4, ' B');
  client.doc.getCounter('likes').increment(2);
  client.doc.getList('tags').push('b');
  client.doc.getMovableList('order').move(0, 1);
  client.doc.getMap('row').delete('outline');
  client.doc.getTree('outline').createNode().data.set('label', 'root');
  client.doc.getText('notes').insert(0, 'very ');
  const row = client.doc.getMap('row');
  row.set('owner', 'bo');
  row.set('score', 2.25);
  row.set('rank', 4);
  row.set('done', true);
  row.set('due', '2026-02-03T04:05:06.000Z');
  row.set('parent', 'b0');
  client.doc.commit();
  client.ws.send(encodeCrdtFrame(0x11, 'Board', 'b1', client.doc.export({ mode: 'update', from })));
  const want = {
    id: 'b1',
    title: 'Plan B',
    likes: 3,
    tags: ['a', 'b'],
    order: ['y', 'x'],
    notes: 'very rich',
    owner: 'bo',
    score: 2.25,
    rank: 4,
    done: true,
    due: '2026-02-03T04:05:06.000Z',
    parent: 'b0',
  };
  for (let i = 0; i < 200 && (await call('GET', '/api/entities/Board/b1')).json.likes !== 3; i++) await new Promise((r) => setTimeout(r, 10));
  const merged = (await call('GET', '/api/entities/Board/b1')).json;
  expect(merged).toMatchObject(want);
  expect(merged.outline).toMatchObject([{ meta: { label: 'root' } }]);

  // JSON writes reach the client as 0x11 updates to the same containers.
  expect(
    (
      await call('PATCH', '/api/entities/Board/b1', {
        likes: 10,
        tags: ['z'],
        title: 'Plan C',
        notes: 'very rich text',
        score: 0.5,
        rank: 7,
        done: false,
        due: '2027-01-01T00:00:00.000Z',
        owner: null,
      })
    ).status,
  ).toBe(200);
  await client.until(() => client.doc.getCounter('likes').value === 10 && client.doc.getMap('row').get('rank') === 7);
  expect(projected(client.doc)).toMatchObject({ notes: 'very rich text', score: 0.5, rank: 7, done: false, due: '2027-01-01T00:00:00.000Z', owner: null, parent: 'b0' });
  expect(projected(client.doc)).toEqual((await call('GET', '/api/entities/Board/b1')).json);
  expect(client.frames.slice(1).every((type) => type === 0x11)).toBe(true);
  client.ws.close();

  // After a restart, the row and the document come back from the database.
  const before = (await call('GET', '/api/entities/Board/b1')).json;
  await server.close();
  await boot();
  expect((await call('GET', '/api/entities/Board/b1')).json).toEqual(before);
  const again = await subscriber();
  expect(projected(again.doc)).toEqual(before);
  again.ws.close();
});
