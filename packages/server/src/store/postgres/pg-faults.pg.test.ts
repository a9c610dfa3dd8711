import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { AppError } from '../../errors/index.js';
import { migrateBase, item } from '../conformance/fixtures.js';
import { createPgStore } from './pg-store.js';
import { STORE_VERSION } from './pg-tables.js';
import { TEST_DATABASE_URL, testSchema } from './pg-test-schema.js';

/** What goes wrong around a PostgreSQL store: an unreachable server, a full pool, a newer database, bad names. */
const schema = testSchema();
afterAll(() => schema.drop());

/** Everything an error carries that could reach a log: message, stack, and its causes'. */
function everything(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) parts.push(e.message, e.stack ?? '');
  return parts.join('\n');
}

describe('PostgreSQL store faults', () => {
  it('an unreachable server is STORE_BUSY, and the password in the URL appears nowhere in the error', async () => {
    const err = await createPgStore({ url: 'postgres://mast:sekret-pw@127.0.0.1:1/test', connectTimeoutMs: 2000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('STORE_BUSY');
    expect((err as AppError).status).toBe(503);
    expect(everything(err)).not.toContain('sekret-pw');
  });

  it('a pool with every connection taken answers STORE_BUSY after its deadline, then serves again', async () => {
    const store = await createPgStore({ url: TEST_DATABASE_URL, schema: `${schema.name}_pool`, maxConnections: 1, connectTimeoutMs: 300 });
    try {
      await migrateBase(store);
      let release!: () => void;
      const held = store.write(() => new Promise<void>((resolve) => (release = resolve)));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      const err = await store
        .read((tx) => tx.count('Item'))
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('STORE_BUSY');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      release();
      await held;
      await store.write((tx) => tx.insert('Item', item('after')));
      expect(await store.read((tx) => tx.count('Item'))).toBe(1);
    } finally {
      await store.close();
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema.name}_pool" CASCADE`);
      await client.end();
    }
  });

  it('refuses a database whose tables a newer Mast wrote, changing nothing', async () => {
    const store = await schema.open();
    await store.close();
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema.name}` });
    await client.connect();
    try {
      await client.query("UPDATE _mast_meta SET value = $1 WHERE key = 'store_version'", [String(STORE_VERSION + 1)]);
      await expect(createPgStore({ url: TEST_DATABASE_URL, schema: schema.name })).rejects.toThrow(/migrated by a newer Mast/);
      expect((await client.query("SELECT value FROM _mast_meta WHERE key = 'store_version'")).rows[0].value).toBe(String(STORE_VERSION + 1));
    } finally {
      await client.query("UPDATE _mast_meta SET value = $1 WHERE key = 'store_version'", [String(STORE_VERSION)]);
      await client.end();
    }
  });

  it('refuses a schema name that is not a plain identifier before connecting', async () => {
    await expect(createPgStore({ url: TEST_DATABASE_URL, schema: 'x"; DROP TABLE y; --' })).rejects.toThrow('invalid PostgreSQL schema name');
  });
});
