import type { RecordedSchema } from '@mast/schema';
import type { ChangeKind } from '@mast/protocol';
import { storeErrors } from '../../errors/index.js';
import type { ChangeLogBounds, ChangeRecord, NewChange, OpRecord, RetentionPolicy, Row } from '../store.js';
import type { Cells, SqliteConnection } from './sqlite-connection.js';
import { isSqliteError } from './sqlite-connection.js';
import { AUTH_TABLES } from './sqlite-auth.js';
import { KEYS_ORGS_TABLES } from './sqlite-keys-orgs.js';
import { JOBS_TABLES } from './sqlite-jobs.js';
import { SESSIONS_TABLE } from './sqlite-sessions.js';

/**
 * Mast's own tables: the change log, op records and metadata. `_mast_changes.seq` is an
 * AUTOINCREMENT key: with one writer it is assigned in commit order, and the counter lives in
 * `sqlite_sequence`, which rolls back with the transaction, so a rolled-back write leaves no
 * gap, and it never reuses a number after the log is pruned, so it is also the head.
 */
const INTERNAL_TABLES = `
CREATE TABLE IF NOT EXISTS _mast_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  entity TEXT NOT NULL,
  row_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  data TEXT,
  before TEXT,
  op_id TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_changes_at ON _mast_changes (at);
CREATE TABLE IF NOT EXISTS _mast_ops (
  op_id TEXT PRIMARY KEY NOT NULL,
  fingerprint TEXT NOT NULL,
  result TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_ops_at ON _mast_ops (at);
CREATE TABLE IF NOT EXISTS _mast_meta (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT
);
`;

const SCHEMA_KEY = 'schema';
const PRUNED_KEY = 'pruned_through';
const KINDS: ReadonlySet<string> = new Set<ChangeKind>(['insert', 'update', 'delete']);

/** Creates Mast's internal tables when they are missing (on the writer, at open). */
export function ensureInternalTables(conn: SqliteConnection): void {
  conn.exec(INTERNAL_TABLES);
  conn.exec(SESSIONS_TABLE);
  conn.exec(AUTH_TABLES);
  conn.exec(KEYS_ORGS_TABLES);
  conn.exec(JOBS_TABLES);
}

function toChange(cells: Cells): ChangeRecord {
  return {
    seq: Number(cells['seq']),
    entity: String(cells['entity']),
    rowId: String(cells['row_id']),
    kind: String(cells['kind']) as ChangeKind,
    data: typeof cells['data'] === 'string' ? (JSON.parse(cells['data']) as Row) : null,
    before: typeof cells['before'] === 'string' ? (JSON.parse(cells['before']) as Row) : null,
    opId: typeof cells['op_id'] === 'string' ? cells['op_id'] : null,
    at: Number(cells['at']),
  };
}

/** Appends one change-log entry inside the current write transaction. */
export function appendChange(conn: SqliteConnection, change: NewChange, now: number): ChangeRecord {
  if (!KINDS.has(change.kind)) throw new Error(`unknown change kind "${change.kind}"`);
  const cells = conn.get('INSERT INTO _mast_changes (entity, row_id, kind, data, before, op_id, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *', [
    change.entity,
    change.rowId,
    change.kind,
    change.data === null ? null : JSON.stringify(change.data),
    change.before == null ? null : JSON.stringify(change.before),
    change.opId,
    now,
  ]);
  return toChange(cells!);
}

/** Entries with seq > `since`, oldest first, at most `limit`. */
export function changesSince(conn: SqliteConnection, since: number, limit: number): ChangeRecord[] {
  if (!Number.isSafeInteger(limit) || limit < 0) throw storeErrors.notNonNegativeInteger('limit');
  return conn.all('SELECT * FROM _mast_changes WHERE seq > ? ORDER BY seq LIMIT ?', [since, limit]).map(toChange);
}

function readMeta(conn: SqliteConnection, key: string): string | null {
  const value = conn.get('SELECT value FROM _mast_meta WHERE key = ?', [key])?.['value'];
  return typeof value === 'string' ? value : null;
}

function writeMeta(conn: SqliteConnection, key: string, value: string): void {
  conn.run('INSERT INTO _mast_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
}

/** The head (highest seq ever assigned) and how far retention has pruned. */
export function changeLogBounds(conn: SqliteConnection): ChangeLogBounds {
  const head = conn.get("SELECT seq FROM sqlite_sequence WHERE name = '_mast_changes'")?.['seq'];
  return { head: head === undefined ? 0 : Number(head), prunedThrough: Number(readMeta(conn, PRUNED_KEY) ?? 0) };
}

/**
 * Applies retention inside a write transaction. Only a prefix of the log is ever removed (up to
 * the newest entry that is too old or too far back), so `prunedThrough` stays exact even if
 * the clock stepped backwards between entries.
 */
export function pruneChanges(conn: SqliteConnection, policy: RetentionPolicy, now: number): number {
  let through = 0;
  if (Number.isFinite(policy.maxAgeMs)) {
    const old = conn.get('SELECT MAX(seq) AS seq FROM _mast_changes WHERE at < ?', [now - policy.maxAgeMs])?.['seq'];
    if (typeof old === 'number') through = Math.max(through, old);
    conn.run('DELETE FROM _mast_ops WHERE at < ?', [now - policy.maxAgeMs]);
  }
  if (Number.isFinite(policy.maxEntries)) {
    const keep = Math.max(0, Math.trunc(policy.maxEntries));
    const last = conn.get('SELECT seq FROM _mast_changes ORDER BY seq DESC LIMIT 1 OFFSET ?', [keep])?.['seq'];
    if (typeof last === 'number') through = Math.max(through, last);
  }
  if (through === 0) return 0;
  const removed = conn.run('DELETE FROM _mast_changes WHERE seq <= ?', [through]);
  const previous = Number(readMeta(conn, PRUNED_KEY) ?? 0);
  if (through > previous) writeMeta(conn, PRUNED_KEY, String(through));
  return removed;
}

/** The recorded outcome of an op, or null. */
export function getOp(conn: SqliteConnection, opId: string): OpRecord | null {
  const cells = conn.get('SELECT op_id, fingerprint, result FROM _mast_ops WHERE op_id = ?', [opId]);
  if (!cells) return null;
  const result = cells['result'];
  return {
    opId: String(cells['op_id']),
    fingerprint: String(cells['fingerprint']),
    result: typeof result === 'string' ? (JSON.parse(result) as unknown) : null,
  };
}

/** Records an op's outcome; an op id already recorded throws OP_ID_REUSED. */
export function putOp(conn: SqliteConnection, op: OpRecord, now: number): void {
  const result = op.result === undefined ? null : JSON.stringify(op.result);
  try {
    conn.run('INSERT INTO _mast_ops (op_id, fingerprint, result, at) VALUES (?, ?, ?, ?)', [op.opId, op.fingerprint, result, now]);
  } catch (err) {
    if (isSqliteError(err) && err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      throw storeErrors.opIdReused(op.opId, err);
    }
    throw err;
  }
}

/** The schema recorded by the last migration, or null. */
export function readRecordedSchema(conn: SqliteConnection): RecordedSchema | null {
  const text = readMeta(conn, SCHEMA_KEY);
  return text === null ? null : (JSON.parse(text) as RecordedSchema);
}

/** Records `schema` as the current one, inside the migration's transaction. */
export function writeRecordedSchema(conn: SqliteConnection, schema: RecordedSchema): void {
  writeMeta(conn, SCHEMA_KEY, JSON.stringify(schema));
}
