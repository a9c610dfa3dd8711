import type Database from 'better-sqlite3';

/**
 * Every pragma Mast sets, in one place. Applied to each connection right after it opens.
 *
 * - `journal_mode = WAL` (writer only; it is stored in the file and readers inherit it): readers
 *   keep reading the last committed state while the writer writes, which is what gives
 *   `snapshotReads`. An in-memory database answers `memory` and stays so.
 * - `synchronous = NORMAL`: in WAL mode this skips the fsync on every commit and syncs at
 *   checkpoints instead. A crash of the process loses nothing; a power cut or OS crash can lose
 *   the last transactions committed before it, but never corrupts the file. FULL would make
 *   every commit durable at the cost of one fsync per write.
 * - `foreign_keys = ON`: Mast declares no foreign keys today, but a database someone else
 *   created may; SQLite ignores them unless this is on.
 * - `busy_timeout`: how long a statement waits for another process's lock before SQLITE_BUSY
 *   (→ STORE_BUSY). better-sqlite3 is synchronous, so the wait blocks the event loop; inside
 *   one Mast process it never happens (one writer, WAL readers never block it), only when
 *   another process (a CLI, a backup) holds the write lock.
 * - `cache_size = -16000`: 16 MiB of page cache per connection (negative means KiB).
 * - `temp_store = MEMORY`: sorts and temporary indexes stay off the disk.
 * - `journal_size_limit`: truncates the WAL file back to 64 MiB after a checkpoint, so one big
 *   write does not leave a huge file behind.
 *
 * Not used: `case_sensitive_like`. It is deprecated in SQLite and changes LIKE for the whole
 * connection; case-sensitive `$like` is compiled to GLOB instead, and `$ilike` to LIKE over
 * case-folded text (see `sqlite-dialect.ts`).
 */

/** Options of a connection's pragmas. */
export interface PragmaOptions {
  readonly busyTimeoutMs: number;
  /** The writer sets the journal mode; readers only read. */
  readonly role: 'writer' | 'reader';
}

/** The default busy timeout in milliseconds. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Applies Mast's pragmas to a freshly opened connection. */
export function applyPragmas(db: Database.Database, options: PragmaOptions): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs))}`);
  if (options.role === 'writer') {
    db.pragma('journal_mode = WAL');
    db.pragma('journal_size_limit = 67108864');
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('cache_size = -16000');
  db.pragma('temp_store = MEMORY');
}

/** The current values of the pragmas above, for diagnostics and tests. */
export function readPragmas(db: Database.Database): Record<string, unknown> {
  const names = ['journal_mode', 'synchronous', 'foreign_keys', 'busy_timeout', 'cache_size', 'temp_store', 'journal_size_limit'];
  return Object.fromEntries(names.map((name) => [name, db.pragma(name, { simple: true })]));
}
