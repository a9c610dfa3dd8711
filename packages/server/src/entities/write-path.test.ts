import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileManifest, type Manifest } from '@mast/schema';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SchemaRef } from '../access/schema-ref.js';
import type { AuthContext } from '../access/auth-context.js';
import { ADMIN } from '../access/auth-context.js';
import { ChangeBus } from '../changes/change-bus.js';
import { migrateStore } from '../core/migrate.js';
import { AppError } from '../errors/index.js';
import type { ChangeRecord } from '../store/index.js';
import { createSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.js';
import { SyncService } from '../changes/sync-service.js';
import { WritePath } from './write-path.js';

// The write path and the sync service in process, on a real SQLite file: no server, no transport.
const manifest: Manifest = {
  manifest_version: 1,
  name: 'write-path',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Note',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'ownerId', type: 'string', optional: false, unique: false },
        { name: 'slug', type: 'string', optional: true, unique: true },
      ],
      indexes: [],
    },
  ],
  policies: [{ name: 'own', entity: 'Note', allowRead: 'auth.userId == data.ownerId', allowWrite: 'auth.userId == data.ownerId' }],
};

const user = (userId: string): AuthContext => ({ userId, isAdmin: false, isGuest: false, roles: [], tenantId: null, orgRole: null });
const alice = user('alice');
const bob = user('bob');

let dir: string;
let store: SqliteStore;
let bus: ChangeBus;
let writes: WritePath;
let sync: SyncService;
let published: ChangeRecord[][];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-write-path-'));
  store = createSqliteStore({ path: join(dir, 'test.db'), readers: 1 });
  const schema = compileManifest(manifest);
  await migrateStore(store, schema, { allowDestructive: false });
  const ref = new SchemaRef(schema);
  ref.bindStore(store);
  bus = new ChangeBus((err) => {
    throw err;
  });
  published = [];
  bus.subscribe((changes) => published.push([...changes]));
  writes = new WritePath(store, ref, bus);
  sync = new SyncService(store, writes, ref, { maxLimit: 1000, maxPush: 50 });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function head(): Promise<number> {
  return (await store.changeLogBounds()).head;
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  throw new Error('expected the write to fail');
}

describe('WritePath.apply', () => {
  it('writes the row, appends one change per op in order, and publishes them once, after the commit', async () => {
    const outcome = await writes.apply(
      [
        { op: 'insert', entity: 'Note', id: 'n1', data: { title: 'one', ownerId: 'alice' } },
        { op: 'update', entity: 'Note', id: 'n1', data: { title: 'uno' } },
      ],
      { auth: alice },
    );
    expect(outcome.results.map((r) => [r.op, r.seq])).toEqual([
      ['insert', 1],
      ['update', 2],
    ]);
    expect(await store.read((tx) => tx.get('Note', 'n1'))).toMatchObject({ title: 'uno', ownerId: 'alice' });
    expect(published).toHaveLength(1);
    expect(published[0]!.map((c) => [c.kind, c.seq])).toEqual([
      ['insert', 1],
      ['update', 2],
    ]);
  });

  it('rolls back every op, change and op record when one op fails, and publishes nothing', async () => {
    await writes.apply([{ op: 'insert', entity: 'Note', id: 'taken', data: { title: 't', ownerId: 'alice', slug: 's' } }], { auth: alice });
    const before = await head();
    published = [];
    const failing = writes.apply(
      [
        { op: 'insert', entity: 'Note', id: 'n2', data: { title: 'two', ownerId: 'alice' } },
        { op: 'insert', entity: 'Note', id: 'n3', data: { title: 'three', ownerId: 'alice', slug: 's' } },
      ],
      { auth: alice, opId: 'op-rolled-back' },
    );
    expect(await code(failing)).toBe('UNIQUE_VIOLATION');
    expect(await head()).toBe(before);
    expect(await store.read((tx) => tx.get('Note', 'n2'))).toBeNull();
    expect(await store.read((tx) => tx.getOp('op-rolled-back'))).toBeNull();
    expect(published).toEqual([]);
  });

  it('checks policies inside the transaction: another owner is refused, and a row the caller cannot read is not found', async () => {
    const before = await head();
    expect(await code(writes.apply([{ op: 'insert', entity: 'Note', id: 'x', data: { title: 'x', ownerId: 'alice' } }], { auth: bob }))).toBe('POLICY_DENIED');
    await writes.apply([{ op: 'insert', entity: 'Note', id: 'mine', data: { title: 'm', ownerId: 'alice' } }], { auth: alice });
    expect(await code(writes.apply([{ op: 'update', entity: 'Note', id: 'mine', data: { title: 'stolen' } }], { auth: bob }))).toBe('NOT_FOUND');
    expect(await code(writes.apply([{ op: 'delete', entity: 'Note', id: 'mine' }], { auth: bob }))).toBe('NOT_FOUND');
    expect(await code(writes.apply([{ op: 'update', entity: 'Note', id: 'mine', data: { ownerId: 'bob' } }], { auth: alice }))).toBe('POLICY_DENIED');
    expect(await head()).toBe(before + 1);
    expect(await store.read((tx) => tx.get('Note', 'mine'))).toMatchObject({ title: 'm', ownerId: 'alice' });
  });

  it('lets an admin write any row', async () => {
    await writes.apply([{ op: 'insert', entity: 'Note', id: 'a', data: { title: 'a', ownerId: 'alice' } }], { auth: alice });
    const outcome = await writes.apply([{ op: 'update', entity: 'Note', id: 'a', data: { title: 'by admin' } }], { auth: ADMIN });
    expect(outcome.results[0]!.row).toMatchObject({ title: 'by admin' });
  });

  it('replays an op id without writing again, and refuses the same op id for another change', async () => {
    const first = await writes.apply([{ op: 'insert', entity: 'Note', id: 'once', data: { title: 'once', ownerId: 'alice' } }], { auth: alice, opId: 'op-1' });
    const before = await head();
    const again = await writes.apply([{ op: 'insert', entity: 'Note', id: 'once', data: { title: 'once', ownerId: 'alice' } }], { auth: alice, opId: 'op-1' });
    expect(again.deduped).toBe(true);
    expect(again.results.map((r) => r.seq)).toEqual(first.results.map((r) => r.seq));
    expect(await head()).toBe(before);
    expect(await code(writes.apply([{ op: 'insert', entity: 'Note', id: 'other', data: { title: 'other', ownerId: 'alice' } }], { auth: alice, opId: 'op-1' }))).toBe(
      'OP_ID_REUSED',
    );
  });

  it('validates before touching the database: a wrong type or an unknown field changes nothing', async () => {
    const before = await head();
    expect(await code(writes.apply([{ op: 'insert', entity: 'Note', data: { title: 42, ownerId: 'alice' } }], { auth: alice }))).toBe('INVALID_FIELD_TYPE');
    expect(await code(writes.apply([{ op: 'insert', entity: 'Note', data: { title: 't', ownerId: 'alice', nope: 1 } }], { auth: alice }))).toBe('INVALID_COLUMN');
    expect(await head()).toBe(before);
  });
});

describe('SyncService', () => {
  it('pulls after a cursor only the changes the caller may read; a page is a span of the log, and its cursor pages on past hidden entries', async () => {
    for (const [id, ownerId] of [
      ['a1', 'alice'],
      ['b1', 'bob'],
      ['a2', 'alice'],
      ['a3', 'alice'],
    ] as const) {
      await writes.apply([{ op: 'insert', entity: 'Note', id, data: { title: id, ownerId } }], { auth: user(ownerId) });
    }
    const first = await sync.pull(alice, '0', '2');
    expect(first.changes.map((c) => c.row_id)).toEqual(['a1']);
    expect(first.has_more).toBe(true);
    expect(first.cursor.last_seq).toBe(2);
    const rest = await sync.pull(alice, String(first.cursor.last_seq), '10');
    expect(rest.changes.map((c) => c.row_id)).toEqual(['a2', 'a3']);
    expect(rest.has_more).toBe(false);
    expect((await sync.pull(bob, '0', '10')).changes.map((c) => c.row_id)).toEqual(['b1']);
  });

  it('refuses a cursor ahead of the change log with RESYNC_REQUIRED', async () => {
    expect(await code(sync.pull(alice, '99', undefined))).toBe('RESYNC_REQUIRED');
  });

  it('pushes each change on its own: one refused change does not stop the others, and a replayed op id is deduped', async () => {
    const body = {
      changes: [
        { entity: 'Note', row_id: 'p1', kind: 'insert', data: { title: 'p1', ownerId: 'alice' }, op_id: 'push-1' },
        { entity: 'Note', row_id: 'p2', kind: 'insert', data: { title: 'p2', ownerId: 'bob' }, op_id: 'push-2' },
        { entity: 'Note', row_id: 'p3', kind: 'insert', data: { title: 'p3', ownerId: 'alice' }, op_id: 'push-3' },
      ],
    };
    const first = await sync.push(body, alice);
    expect(first.results.map((r) => [r.row_id, r.ok, r.error?.code])).toEqual([
      ['p1', true, undefined],
      ['p2', false, 'POLICY_DENIED'],
      ['p3', true, undefined],
    ]);
    expect(first.applied).toBe(2);
    const before = await head();
    const again = await sync.push(body, alice);
    expect(again.deduped).toBe(2);
    expect(await head()).toBe(before);
  });
});
