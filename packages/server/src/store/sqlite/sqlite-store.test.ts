import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { diffSchemas } from '@mast/schema';
import { afterEach, describe, expect, it } from 'vitest';
import { expectAppError, item, migrateBase, schemaOf, itemEntity, userEntity } from '../conformance/fixtures.js';
import { storeConformance } from '../store.case.js';
import { createSqliteStore, type SqliteStore } from './sqlite-store.js';

async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mast-sqlite-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

storeConformance('sqlite file', async () => {
  const { dir, remove } = await tempDir();
  const store = createSqliteStore({ path: join(dir, 'test.db'), readers: 2 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await remove();
    },
  };
});

storeConformance('sqlite :memory:', async () => {
  const store = createSqliteStore({ path: ':memory:' });
  return { store, cleanup: () => store.close() };
});

describe('SQLite specifics', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function fileStore(options: { readers?: number; busyTimeoutMs?: number } = {}): Promise<{ store: SqliteStore; path: string }> {
    const { dir, remove } = await tempDir();
    const path = join(dir, 'mast.db');
    const store = createSqliteStore({ path, ...options });
    cleanups.push(remove, () => store.close());
    return { store, path };
  }

  function memoryStore(): SqliteStore {
    const store = createSqliteStore({ path: ':memory:' });
    cleanups.push(() => store.close());
    return store;
  }

  function openRaw(path: string, readonly = false): Database.Database {
    const db = new Database(path, { readonly });
    cleanups.push(async () => void db.close());
    return db;
  }

  it('applies its pragmas on the writer and every reader', async () => {
    const { store, path } = await fileStore({ readers: 3 });
    const { writer, readers } = store.pragmas();
    expect(readers).toHaveLength(3);
    for (const pragmas of [writer, ...readers]) {
      expect(pragmas).toMatchObject({ journal_mode: 'wal', synchronous: 1, foreign_keys: 1, busy_timeout: 5000, cache_size: -16000, temp_store: 2 });
    }
    expect(openRaw(path, true).pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.capabilities).toEqual({ concurrentWriters: false, snapshotReads: true, multiNode: false, blockingCalls: true });
    expect(memoryStore().capabilities.snapshotReads).toBe(false);
  });

  it('another connection sees committed data, and only committed data', async () => {
    const { store, path } = await fileStore();
    await migrateBase(store);
    const other = openRaw(path, true);
    let during: unknown;
    await store.write(async (tx) => {
      await tx.insert('Item', item('a', { done: true }));
      during = other.prepare('SELECT COUNT(*) AS n FROM "Item"').get();
    });
    expect(during).toEqual({ n: 0 });
    expect(other.prepare('SELECT id, done FROM "Item"').all()).toEqual([{ id: 'a', done: 1 }]);
  });

  it('keeps rows, schema and the change-log head across a reopen', async () => {
    const { store, path } = await fileStore();
    const schema = await migrateBase(store);
    await store.write(async (tx) => {
      await tx.insert('Item', item('a', { meta: { k: 1 } }));
      await tx.appendChange({ entity: 'Item', rowId: 'a', kind: 'insert', data: null, opId: null });
      await tx.appendChange({ entity: 'Item', rowId: 'a', kind: 'update', data: null, opId: null });
    });
    await store.pruneChanges({ maxAgeMs: Number.POSITIVE_INFINITY, maxEntries: 0 });
    await store.close();

    const again = createSqliteStore({ path });
    cleanups.push(() => again.close());
    expect((await again.recordedSchema())?.manifest).toEqual(schema.manifest);
    again.useSchema(schema);
    expect(await again.read((tx) => tx.get('Item', 'a'))).toMatchObject({ meta: { k: 1 } });
    expect(await again.changeLogBounds()).toEqual({ head: 2, prunedThrough: 2 });
    const next = await again.write((tx) => tx.appendChange({ entity: 'Item', rowId: 'b', kind: 'insert', data: null, opId: null }));
    expect(next.seq).toBe(3);
  });

  it('a rolled-back write leaves sqlite_sequence where it was', async () => {
    const { store, path } = await fileStore();
    await migrateBase(store);
    await store.write((tx) => tx.appendChange({ entity: 'Item', rowId: 'a', kind: 'insert', data: null, opId: null }));
    await expect(
      store.write(async (tx) => {
        await tx.appendChange({ entity: 'Item', rowId: 'b', kind: 'insert', data: null, opId: null });
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(openRaw(path, true).prepare("SELECT seq FROM sqlite_sequence WHERE name = '_mast_changes'").get()).toEqual({ seq: 1 });
  });

  it('$like stays case-sensitive and $ilike folds non-ASCII letters', async () => {
    const store = memoryStore();
    await migrateBase(store);
    await store.write(async (tx) => {
      await tx.insert('Item', item('a', { title: 'Éclair' }));
      await tx.insert('Item', item('b', { title: 'éclair' }));
    });
    const find = (pattern: string, caseInsensitive: boolean) =>
      store.read(async (tx) => (await tx.find('Item', { where: { kind: 'like', field: 'title', pattern, caseInsensitive } })).map((r) => r.id));
    expect(await find('é%', false)).toEqual(['b']);
    expect(await find('É%', false)).toEqual(['a']);
    expect(await find('é%', true)).toEqual(['a', 'b']);
    expect(await find('ÉCLAIR', true)).toEqual(['a', 'b']);
  });

  it('refuses a nested write instead of deadlocking, on both connection layouts', async () => {
    for (const store of [memoryStore(), (await fileStore()).store]) {
      await migrateBase(store);
      await expect(store.write(() => store.write((tx) => tx.insert('Item', item('x'))))).rejects.toThrow(/inside a write/);
      expect(await store.read((tx) => tx.count('Item'))).toBe(0);
    }
  });

  it(':memory: lets a write read its own rows and makes outside reads wait for the commit', async () => {
    const store = memoryStore();
    await migrateBase(store);
    let outside: Promise<number> | undefined;
    await store.write(async (tx) => {
      await tx.insert('Item', item('a'));
      expect(await store.read((r) => r.count('Item'))).toBe(1);
      outside = store.read((r) => r.count('Item'));
    });
    expect(await outside).toBe(1);
    // A read may run writes; they take their turn on the one connection.
    await store.read(async () => {
      await Promise.all([store.write((tx) => tx.insert('Item', item('b'))), store.write((tx) => tx.insert('Item', item('c')))]);
    });
    expect(await store.read((tx) => tx.count('Item'))).toBe(3);
    // A write a read starts without awaiting still finishes before the next queued write begins.
    let fired: Promise<unknown> | undefined;
    const reading = store.read(async () => {
      fired = store.write(async (tx) => {
        await new Promise((r) => setTimeout(r, 5));
        await tx.insert('Item', item('d'));
      });
    });
    const queued = store.write((tx) => tx.insert('Item', item('e')));
    await Promise.all([reading, queued, fired]);
    expect(await store.read((tx) => tx.count('Item'))).toBe(5);
  });

  it('reads nested in a read share its snapshot even with one reader connection', async () => {
    const { store } = await fileStore({ readers: 1 });
    await migrateBase(store);
    const counts = await store.read(async () => Promise.all([store.read((tx) => tx.count('Item')), store.changeLogBounds()]));
    expect(counts).toEqual([0, { head: 0, prunedThrough: 0 }]);
  });

  it('turns a lock held by another process into STORE_BUSY and keeps serving', async () => {
    const { store, path } = await fileStore({ busyTimeoutMs: 20 });
    await migrateBase(store);
    const other = openRaw(path);
    other.exec('BEGIN IMMEDIATE');
    await expectAppError(
      store.write((tx) => tx.insert('Item', item('a'))),
      'STORE_BUSY',
    );
    other.exec('ROLLBACK');
    await store.write((tx) => tx.insert('Item', item('a')));
    expect(await store.read((tx) => tx.count('Item'))).toBe(1);
  });

  it('close waits for queued writes, then refuses new work', async () => {
    const { store } = await fileStore();
    await migrateBase(store);
    let release!: () => void;
    const reading = store.read(async (tx) => {
      const first = await tx.count('Item');
      await new Promise<void>((r) => (release = r));
      return [first, await tx.count('Item')];
    });
    const writes = [1, 2, 3].map((n) => store.write((tx) => tx.insert('Item', item(`w${n}`))));
    const closing = store.close();
    setTimeout(() => release(), 10);
    await closing;
    await expect(Promise.all(writes)).resolves.toHaveLength(3);
    const [first, second] = await reading;
    expect(second).toBe(first);
    await expectAppError(
      store.read((tx) => tx.count('Item')),
      'SHUTTING_DOWN',
    );
    await expectAppError(
      store.write((tx) => tx.insert('Item', item('late'))),
      'SHUTTING_DOWN',
    );
  });

  it('creates the declared indexes under their conventional names', async () => {
    const { store, path } = await fileStore();
    await store.migrate({ steps: [{ kind: 'createTable', entity: schemaOf([itemEntity, userEntity]).entities[0]! }], destructive: false }, schemaOf([itemEntity, userEntity]));
    const names = openRaw(path, true).prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'Item' AND name NOT LIKE 'sqlite%' ORDER BY name").all();
    expect(names).toEqual([{ name: 'Item__by_count' }, { name: 'Item__code__unique' }, { name: 'Item__owner_slug' }]);
  });

  it('applies the plans diffSchemas computes, from nothing and between versions', async () => {
    const { store } = await fileStore();
    const v1 = schemaOf([itemEntity, userEntity]);
    await store.migrate(diffSchemas(null, v1), v1);
    await store.write((tx) => tx.insert('Item', item('a', { count: 7, code: 'X', owner: 'u', slug: 's' })));
    const v2 = schemaOf([
      {
        ...itemEntity,
        fields: [
          ...itemEntity.fields.filter((f) => f.name !== 'code').map((f) => (f.name === 'count' ? { ...f, type: 'string' as const } : f)),
          { name: 'email', type: 'string', optional: true, unique: true },
        ],
        indexes: itemEntity.indexes.filter((i) => i.name !== 'owner_slug'),
      },
    ]);
    await store.migrate(diffSchemas(v1, v2), v2);
    const tables = await store.introspect();
    expect([...tables.keys()]).toEqual(['Item']);
    expect(tables.get('Item')).toEqual(expect.arrayContaining(['count', 'email']));
    expect(tables.get('Item')).not.toContain('code');
    expect(await store.read((tx) => tx.get('Item', 'a'))).toMatchObject({ count: '7', email: null });
    await store.write((tx) => tx.insert('Item', item('b', { owner: 'u', slug: 's', email: 'e@x' })));
    await expectAppError(
      store.write((tx) => tx.insert('Item', item('c', { email: 'e@x' }))),
      'UNIQUE_VIOLATION',
      ['email'],
    );
    expect(diffSchemas(v2, v2).steps).toEqual([]);
  });
});
