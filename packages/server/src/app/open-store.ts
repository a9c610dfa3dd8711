import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPgStore, createSqliteStore, type Store } from '../store/index.js';

/** Where an app's SQLite file lives when no database URL is given. */
export function defaultDatabasePath(appDir: string): string {
  return join(appDir, '.mast', 'mast.db');
}

/** The SQLite file a database URL names (relative paths from the app folder), or null for `:memory:` and PostgreSQL. */
export function sqlitePathOf(databaseUrl: string | null, appDir: string): string | null {
  const url = databaseUrl ?? defaultDatabasePath(appDir);
  if (url === ':memory:' || /^postgres(ql)?:\/\//i.test(url)) return null;
  return url.startsWith('file:') ? fileURLToPath(url) : resolve(appDir, url);
}

/**
 * Opens the store a database URL names: a file path, `file:` URL or `:memory:` for SQLite, or a
 * `postgres://` / `postgresql://` URL for PostgreSQL (several nodes may share it). `exclusive`
 * claims a SQLite file for this process until the store closes (a server, a migration): while
 * another holds it, opening fails with `DatabaseInUseError`; PostgreSQL needs no claim.
 */
export async function openStore(databaseUrl: string | null, appDir: string, options: { exclusive?: boolean } = {}): Promise<Store> {
  const url = databaseUrl ?? defaultDatabasePath(appDir);
  if (/^postgres(ql)?:\/\//i.test(url)) return createPgStore({ url });
  if (url === ':memory:') return createSqliteStore({ path: ':memory:' });
  const path = url.startsWith('file:') ? fileURLToPath(url) : resolve(appDir, url);
  mkdirSync(dirname(path), { recursive: true });
  return createSqliteStore({ path, exclusive: options.exclusive ?? false });
}
