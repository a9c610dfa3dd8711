import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileManifest, type Manifest, type ManifestEntity } from '@mast/schema';
import { ADMIN, MastServer, MigrationRefusedError, loadConfig, migrateStore, openStore } from '@mast/server';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mast-migrate-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function manifest(entities: ManifestEntity[]): Manifest {
  return { manifest_version: 1, name: 'm', version: '1', entities, routes: [], policies: entities.map((e) => ({ name: `${e.name}_open`, entity: e.name, allow: 'true' })) };
}

const todoV1: ManifestEntity = {
  name: 'Todo',
  fields: [
    { name: 'title', type: 'string', optional: false, unique: false },
    { name: 'done', type: 'bool', optional: false, unique: false },
  ],
  indexes: [],
};

async function withServer<T>(m: Manifest, fn: (server: MastServer) => Promise<T>, overrides: Record<string, unknown> = {}): Promise<T> {
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dir, 'app.db'), ...overrides });
  const server = await MastServer.create({ appDir: dir, schema: compileManifest(m), config });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

async function seed(): Promise<void> {
  await withServer(manifest([todoV1]), async (s) => {
    await s.writes.apply(
      [
        { op: 'insert', entity: 'Todo', data: { id: 'a', title: 'first', done: false } },
        { op: 'insert', entity: 'Todo', data: { id: 'b', title: 'second', done: true } },
      ],
      { auth: ADMIN },
    );
  });
}

describe('migrations on start', () => {
  it('adds entities, columns and indexes and keeps existing rows', async () => {
    await seed();
    const todoV2: ManifestEntity = {
      ...todoV1,
      fields: [...todoV1.fields, { name: 'priority', type: 'int', optional: true, unique: false }],
      indexes: [{ name: 'by_priority', fields: ['priority'], unique: false }],
    };
    const tag: ManifestEntity = { name: 'Tag', fields: [{ name: 'label', type: 'string', optional: false, unique: true }], indexes: [] };
    await withServer(manifest([todoV2, tag]), async (s) => {
      expect(await s.reader.get(ADMIN, 'Todo', 'a')).toEqual({ id: 'a', title: 'first', done: false, priority: null });
      await s.writes.apply([{ op: 'update', entity: 'Todo', id: 'a', data: { priority: 3 } }], { auth: ADMIN });
      await s.writes.apply([{ op: 'insert', entity: 'Tag', data: { label: 'x' } }], { auth: ADMIN });
      await expect(s.writes.apply([{ op: 'insert', entity: 'Tag', data: { label: 'x' } }], { auth: ADMIN })).rejects.toMatchObject({ code: 'UNIQUE_VIOLATION' });
      expect((await s.reader.query(ADMIN, 'Todo', { priority: 3 })).rows.map((r) => r.id)).toEqual(['a']);
    });
    const db = new Database(join(dir, 'app.db'), { readonly: true });
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'Todo'").all() as Array<{ name: string }>;
    db.close();
    expect(indexes.map((i) => i.name)).toContain('Todo__by_priority');
  });

  it('refuses to drop a field without the flag and changes nothing', async () => {
    await seed();
    const dropped = manifest([{ ...todoV1, fields: [todoV1.fields[0]!] }]);
    const err = await withServer(dropped, async () => 'started').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationRefusedError);
    expect((err as Error).message).toMatch(/DESTRUCTIVE.*Todo.*done/);
    await withServer(manifest([todoV1]), async (s) => {
      expect(await s.reader.get(ADMIN, 'Todo', 'b')).toMatchObject({ done: true });
    });
  });

  it('drops a field when allowed', async () => {
    await seed();
    await withServer(
      manifest([{ ...todoV1, fields: [todoV1.fields[0]!] }]),
      async (s) => {
        expect(await s.reader.get(ADMIN, 'Todo', 'b')).toEqual({ id: 'b', title: 'second' });
      },
      { allowDestructive: true },
    );
  });

  it('renames a field declared with renamedFrom, keeping its values, also in the CRDT documents of the rows', async () => {
    await seed();
    // Row a gets its CRDT document (as a CRDT subscribe would); b stays SQL only.
    await withServer(manifest([todoV1]), (s) => s.docs.materialize(s.core.schema.current.entitiesByName.get('Todo')!, 'a'));
    const renamed = (extra: Partial<ManifestEntity> = {}) =>
      manifest([{ ...todoV1, ...extra, fields: [{ name: 'name', type: 'string', optional: false, unique: true, renamedFrom: 'title' }, todoV1.fields[1]!] }]);
    await withServer(renamed(), async (s) => {
      // A CRDT write builds on the row's document: it must hold the value under the new name.
      await s.writes.apply([{ op: 'update', entity: 'Todo', id: 'a', data: { done: true } }], { auth: ADMIN });
      expect(await s.reader.get(ADMIN, 'Todo', 'a')).toEqual({ id: 'a', name: 'first', done: true });
      expect(await s.reader.get(ADMIN, 'Todo', 'b')).toEqual({ id: 'b', name: 'second', done: true });
      await expect(s.writes.apply([{ op: 'insert', entity: 'Todo', data: { name: 'first', done: false } }], { auth: ADMIN })).rejects.toMatchObject({
        code: 'UNIQUE_VIOLATION',
      });
    });
    const db = new Database(join(dir, 'app.db'), { readonly: true });
    const columns = (db.prepare("SELECT name FROM pragma_table_info('Todo')").all() as Array<{ name: string }>).map((c) => c.name);
    db.close();
    expect(columns).toEqual(['id', 'name', 'done']);
  });

  it('renames a field on a dev reload while the documents of its rows are cached', async () => {
    await withServer(manifest([todoV1]), async (s) => {
      await s.writes.apply([{ op: 'insert', entity: 'Todo', data: { id: 'a', title: 'first', done: false } }], { auth: ADMIN });
      await s.docs.materialize(s.core.schema.current.entitiesByName.get('Todo')!, 'a');
      await s.writes.apply([{ op: 'update', entity: 'Todo', id: 'a', data: { done: true } }], { auth: ADMIN });
      const next = compileManifest(
        manifest([{ ...todoV1, fields: [{ name: 'heading', type: 'string', optional: false, unique: false, renamedFrom: 'title' }, todoV1.fields[1]!] }]),
      );
      expect(await s.reload(next)).toEqual(['rename column Todo.title to heading (values kept)']);
      await s.writes.apply([{ op: 'update', entity: 'Todo', id: 'a', data: { done: false } }], { auth: ADMIN });
      expect(await s.reader.get(ADMIN, 'Todo', 'a')).toEqual({ id: 'a', heading: 'first', done: false });
    });
  });

  it('refuses a type change and a dropped entity without the flag', async () => {
    await seed();
    const retyped = manifest([{ ...todoV1, fields: [todoV1.fields[0]!, { name: 'done', type: 'string', optional: false, unique: false }] }]);
    await expect(withServer(retyped, async () => 'started')).rejects.toBeInstanceOf(MigrationRefusedError);
    const other: ManifestEntity = { name: 'Other', fields: [{ name: 'x', type: 'string', optional: true, unique: false }], indexes: [] };
    await expect(withServer(manifest([other]), async () => 'started')).rejects.toBeInstanceOf(MigrationRefusedError);
  });

  it('refuses to make a field required while rows have no value', async () => {
    await withServer(manifest([{ ...todoV1, fields: [...todoV1.fields, { name: 'note', type: 'string', optional: true, unique: false }] }]), async (s) => {
      await s.writes.apply([{ op: 'insert', entity: 'Todo', data: { title: 't', done: false } }], { auth: ADMIN });
    });
    const required = manifest([{ ...todoV1, fields: [...todoV1.fields, { name: 'note', type: 'string', optional: false, unique: false }] }]);
    await expect(withServer(required, async () => 'started')).rejects.toThrow(/note/);
  });

  it('prints a plan on a dry run without applying it', async () => {
    await seed();
    const store = await openStore(join(dir, 'app.db'), dir);
    try {
      const next = compileManifest(manifest([{ ...todoV1, fields: [...todoV1.fields, { name: 'note', type: 'string', optional: true, unique: false }] }]));
      const lines = await migrateStore(store, next, { allowDestructive: false, dryRun: true });
      expect(lines.join('\n')).toMatch(/note/);
      expect((await store.recordedSchema())?.manifest.entities[0]?.fields.map((f) => f.name)).toEqual(['title', 'done']);
    } finally {
      await store.close();
    }
  });

  it('adopts a database with existing tables it never migrated (a Pylon database)', async () => {
    const db = new Database(join(dir, 'app.db'));
    db.exec('CREATE TABLE "Todo" (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, done INTEGER NOT NULL)');
    db.prepare('INSERT INTO "Todo" (id, title, done) VALUES (?, ?, ?)').run('p1', 'from pylon', 1);
    db.close();
    await withServer(manifest([{ ...todoV1, fields: [...todoV1.fields, { name: 'note', type: 'string', optional: true, unique: false }] }]), async (s) => {
      expect(await s.reader.get(ADMIN, 'Todo', 'p1')).toEqual({ id: 'p1', title: 'from pylon', done: true, note: null });
    });
  });
});
