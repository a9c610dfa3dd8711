import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PgStore, PgStoreOptions } from './pg-store.js';
import { createPgStore } from './pg-store.js';

/** The PostgreSQL tests use: `MAST_TEST_DATABASE_URL`, else the local server's `test` database. */
export const TEST_DATABASE_URL = process.env['MAST_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Empties a schema Mast created: drops the app's tables and deletes the rows of Mast's own. */
const RESET = `
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_mast\\_%' LOOP
    EXECUTE format('DROP TABLE %I CASCADE', r.tablename);
  END LOOP;
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE '\\_mast\\_%' AND tablename <> '_mast_log_head' LOOP
    EXECUTE format('DELETE FROM %I', r.tablename);
  END LOOP;
  UPDATE _mast_log_head SET seq = 0;
END $$;
`;

async function withClient<T>(schema: string | undefined, task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
  await client.connect();
  try {
    return await task(client);
  } finally {
    await client.end();
  }
}

/**
 * Stores for one test file on one schema of its own (`mast_t_<random>`): `open()` gives a store
 * on that schema emptied of everything earlier tests left, `drop()` removes the schema. Creating
 * Mast's tables costs about half a second on a loaded machine, emptying them a few milliseconds.
 */
export function testSchema(options: Omit<PgStoreOptions, 'url' | 'schema'> = {}): { readonly name: string; open(): Promise<PgStore>; drop(): Promise<void> } {
  const name = `mast_t_${randomBytes(6).toString('hex')}`;
  let created = false;
  return {
    name,
    async open() {
      if (created) await withClient(name, (client) => client.query(RESET));
      created = true;
      return createPgStore({ url: TEST_DATABASE_URL, schema: name, ...options });
    },
    async drop() {
      if (created) await withClient(undefined, (client) => client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`));
    },
  };
}
