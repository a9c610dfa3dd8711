import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * Copies a SQLite database, consistent as of one moment, to `target` with `VACUUM INTO` on a
 * read-only connection: safe while a server writes to it (WAL lets the read go on beside the
 * writer, and the exclusive lock a server holds is on `<database>.lock`, not on the database).
 * Refuses a missing source and an existing target. The copy is compact and self-contained (no
 * `-wal` file): serving it is `MAST_DATABASE_URL=<target>`.
 */
export function backupDatabase(source: string, target: string): void {
  if (!existsSync(source)) throw new Error(`No database at ${source}`);
  if (existsSync(target)) throw new Error(`${target} already exists; a backup never overwrites a file`);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.prepare('VACUUM INTO ?').run(target);
  } finally {
    db.close();
  }
}
