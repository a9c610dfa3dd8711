import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compileManifest } from '@mast/schema';
import { ADMIN, AppError, MastServer, loadConfig, projectDoc } from '@mast/server';

const dir = mkdtempSync(join(tmpdir(), 'mast-crdt-session-'));
let server: MastServer;

beforeAll(async () => {
  const schema = compileManifest({
    manifest_version: 1,
    name: 'session',
    version: '1',
    routes: [],
    entities: [
      {
        name: 'Page',
        fields: [
          { name: 'slug', type: 'string', optional: false, unique: true },
          { name: 'body', type: 'richtext', optional: true, unique: false },
        ],
        indexes: [],
      },
    ],
    policies: [],
  });
  server = await MastServer.create({ appDir: dir, schema, config: loadConfig({}, { port: 0, logLevel: 'silent', databaseUrl: join(dir, 'db.sqlite') }) });
  await server.writes.apply(
    [
      { op: 'insert', entity: 'Page', data: { id: 'p1', slug: 'one', body: 'first' } },
      { op: 'insert', entity: 'Page', data: { id: 'p2', slug: 'two', body: 'second' } },
    ],
    { auth: ADMIN },
  );
  // Both rows get their documents, as a CRDT subscriber would make them: the writes below go through them.
  for (const id of ['p1', 'p2']) await server.docs.materialize(server.schema.entity('Page'), id);
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function expectDocIsRow(id: string): Promise<Record<string, unknown>> {
  const row = await server.reader.get(ADMIN, 'Page', id);
  const doc = await server.docs.read('Page', id);
  expect({ id, ...projectDoc(doc!, server.schema.entity('Page')) }).toEqual(row);
  return row;
}

it('an op that fails inside a transaction, and is caught, leaves nothing of itself in the document', async () => {
  await server.writes.transaction({ auth: ADMIN }, '', async (session) => {
    await session.apply({ op: 'update', entity: 'Page', id: 'p1', data: { body: 'first, edited' } });
    // A unique violation after the document took the new values: the caller catches it and goes on.
    const failed = await session.apply({ op: 'update', entity: 'Page', id: 'p1', data: { slug: 'two', body: 'must not stay' } }).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(AppError);
    expect((failed as AppError).code).toBe('UNIQUE_VIOLATION');
    await session.apply({ op: 'update', entity: 'Page', id: 'p1', data: { slug: 'uno' } });
  });
  expect(await expectDocIsRow('p1')).toEqual({ id: 'p1', slug: 'uno', body: 'first, edited' });
});

it('a transaction that rolls back leaves the committed document as it was', async () => {
  const failed = await server.writes
    .transaction({ auth: ADMIN }, '', async (session) => {
      await session.apply({ op: 'update', entity: 'Page', id: 'p2', data: { body: 'rolled back' } });
      throw new Error('abort');
    })
    .catch((err: unknown) => err);
  expect((failed as Error).message).toBe('abort');
  expect(await expectDocIsRow('p2')).toMatchObject({ body: 'second' });
  await server.writes.apply([{ op: 'update', entity: 'Page', id: 'p2', data: { body: 'second!' } }], { auth: ADMIN });
  expect(await expectDocIsRow('p2')).toMatchObject({ body: 'second!' });
});
