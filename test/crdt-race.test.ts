import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { LoroDoc } from 'loro-crdt';
import { compileManifest } from '@mast/schema';
import { ADMIN, MastServer, createSqliteStore, loadConfig, type Store } from '@mast/server';

it('a cache reload that read the sidecar before a commit never puts the older document back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mast-crdt-race-'));
  const inner = createSqliteStore({ path: join(dir, 'db.sqlite') });
  // Holds a sidecar read after it has read, so a write can commit before the reader resumes.
  let gate: Promise<void> | null = null;
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'crdt') {
        return {
          get: async (entity: string, rowId: string) => {
            const record = await target.crdt.get(entity, rowId);
            if (gate) await gate;
            return record;
          },
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as Store;
  const schema = compileManifest({
    manifest_version: 1,
    name: 'race',
    version: '1',
    routes: [],
    entities: [{ name: 'Note', fields: [{ name: 'body', type: 'richtext', optional: true, unique: false }], indexes: [] }],
    policies: [],
  });
  const config = loadConfig({}, { port: 0, logLevel: 'silent', databaseUrl: join(dir, 'db.sqlite'), crdtCacheDocs: 1, crdtCacheBytes: 1 << 24 });
  const server = await MastServer.create({ appDir: dir, schema, config, store });
  try {
    const write = (id: string, body: string) => server.writes.apply([{ op: 'update', entity: 'Note', id, data: { body } }], { auth: ADMIN });
    await server.writes.apply(
      [
        { op: 'insert', entity: 'Note', data: { id: 'a', body: '' } },
        { op: 'insert', entity: 'Note', data: { id: 'b', body: '' } },
      ],
      { auth: ADMIN },
    );
    for (const id of ['a', 'b']) await server.docs.materialize(server.schema.entity('Note'), id);
    await write('b', 'evicts a');
    let release!: () => void;
    gate = new Promise((resolve) => (release = resolve));
    const reload = server.docs.read('Note', 'a');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await write('a', 'abc');
    // A client that received this commit.
    const client = new LoroDoc();
    client.import((await inner.crdt.get('Note', 'a'))!.snapshot);
    gate = null;
    release();
    await reload;
    await write('a', 'xyz');
    client.import((await inner.crdt.get('Note', 'a'))!.snapshot);
    expect(client.getText('body').toString()).toBe('xyz');
    expect((await server.docs.read('Note', 'a'))!.getText('body').toString()).toBe('xyz');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
