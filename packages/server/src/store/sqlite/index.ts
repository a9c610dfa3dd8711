/** The SQLite store backend. */
export { createSqliteStore } from './sqlite-store.js';
export { DatabaseInUseError, lockDatabase } from './sqlite-lock.js';
export { backupDatabase } from './sqlite-backup.js';
export type { DatabaseLock } from './sqlite-lock.js';
export type { SqliteStore, SqliteStoreOptions } from './sqlite-store.js';
