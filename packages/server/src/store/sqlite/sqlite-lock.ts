import Database from 'better-sqlite3';

/** Raised when another process (or another store in this one) already holds a database's lock. */
export class DatabaseInUseError extends Error {
  constructor(
    readonly databasePath: string,
    readonly lockPath: string,
  ) {
    super(
      `The database ${databasePath} is in use by another Mast server (it holds the lock ${lockPath}). ` +
        "Two servers on one SQLite file would not see each other's writes live, and a migration must not run under a running server: " +
        'stop the other server first, or give this one another --database-url.',
    );
    this.name = 'DatabaseInUseError';
  }
}

/** An exclusive claim on a SQLite database, held until `release`. */
export interface DatabaseLock {
  /** The sidecar file whose lock is held (`<database>.lock`). */
  readonly path: string;
  release(): void;
}

/**
 * Claims `databasePath` for this store alone: a dedicated connection to the sidecar database
 * `<databasePath>.lock` holds `BEGIN EXCLUSIVE` (rollback journal, so the lock is SQLite's own
 * file lock on it) for as long as the store is open. The operating system drops that lock when
 * the process ends in any way, `kill -9` included, so a crash never leaves the database locked;
 * SQLite also tracks its locks within a process, so a second store in the same process is
 * refused as well. Throws `DatabaseInUseError` without waiting when the lock is taken.
 */
export function lockDatabase(databasePath: string): DatabaseLock {
  const path = `${databasePath}.lock`;
  const db = new Database(path, { timeout: 0 });
  try {
    db.pragma('journal_mode = DELETE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY' || (err as { code?: unknown }).code === 'SQLITE_LOCKED') throw new DatabaseInUseError(databasePath, path);
    throw err;
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      db.exec('ROLLBACK');
      db.close();
    },
  };
}
