import type { RecordedSchema } from '@mast/schema';
import type { ChangeKind } from '@mast/protocol';
import { storeErrors } from '../../errors/index.js';
import type { ChangeLogBounds, ChangeRecord, NewChange, OpRecord, RetentionPolicy, Row } from '../store.js';
import type { Cells, PgConnection } from './pg-connection.js';
import { isPgError } from './pg-connection.js';

/**
 * The change log on PostgreSQL: gap-free and in commit order with concurrent writers.
 *
 * A sequence would number an entry at INSERT while it becomes visible at COMMIT, so a reader
 * could see seq 7 before seq 6 commits and pass 6 for ever. Here every entry is numbered by
 * updating the one row of `_mast_log_head` (`seq = seq + 1`) in the statement that inserts it.
 * That row lock is held until the transaction ends, so:
 * - a second writer numbers its first entry only after the first writer has committed (and is
 *   visible) or rolled back: seq order is commit order, and `seq > cursor` never skips;
 * - the counter is an ordinary row, so a rollback takes its increments back: no gaps;
 * - under READ COMMITTED the waiting UPDATE re-reads the row the other writer committed, so it
 *   continues from that writer's last number.
 * The cost is that writers are serialised from their first change-log entry to their commit
 * (docs/scale-out.md). The head is the counter itself, so pruning never moves it back.
 */

const SCHEMA_KEY = 'schema';
const PRUNED_KEY = 'pruned_through';
const KINDS: ReadonlySet<string> = new Set<ChangeKind>(['insert', 'update', 'delete']);

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
export async function appendChange(conn: PgConnection, change: NewChange, now: number): Promise<ChangeRecord> {
  if (!KINDS.has(change.kind)) throw new Error(`unknown change kind "${change.kind}"`);
  const cells = await conn.get(
    `WITH head AS (UPDATE _mast_log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq)
     INSERT INTO _mast_changes (seq, entity, row_id, kind, data, before, op_id, at) SELECT head.seq, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::bigint FROM head RETURNING *`,
    [
      change.entity,
      change.rowId,
      change.kind,
      change.data === null ? null : JSON.stringify(change.data),
      change.before == null ? null : JSON.stringify(change.before),
      change.opId,
      now,
    ],
  );
  return toChange(cells!);
}

/** Entries with seq > `since`, oldest first, at most `limit`. */
export async function changesSince(conn: PgConnection, since: number, limit: number): Promise<ChangeRecord[]> {
  if (!Number.isSafeInteger(limit) || limit < 0) throw storeErrors.notNonNegativeInteger('limit');
  return (await conn.all('SELECT * FROM _mast_changes WHERE seq > ? ORDER BY seq LIMIT ?', [since, limit])).map(toChange);
}

async function readMeta(conn: PgConnection, key: string): Promise<string | null> {
  const value = (await conn.get('SELECT value FROM _mast_meta WHERE key = ?', [key]))?.['value'];
  return typeof value === 'string' ? value : null;
}

async function writeMeta(conn: PgConnection, key: string, value: string): Promise<void> {
  await conn.run('INSERT INTO _mast_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
}

/** The head (highest seq ever assigned) and how far retention has pruned. */
export async function changeLogBounds(conn: PgConnection): Promise<ChangeLogBounds> {
  const head = (await conn.get('SELECT seq FROM _mast_log_head WHERE id = 1'))?.['seq'];
  return { head: head === undefined ? 0 : Number(head), prunedThrough: Number((await readMeta(conn, PRUNED_KEY)) ?? 0) };
}

/**
 * Applies retention inside a write transaction. Only a prefix of the log is ever removed (up to
 * the newest entry that is too old or too far back), so `prunedThrough` stays exact even if
 * the clock stepped backwards between entries.
 */
export async function pruneChanges(conn: PgConnection, policy: RetentionPolicy, now: number): Promise<number> {
  let through = 0;
  if (Number.isFinite(policy.maxAgeMs)) {
    const old = (await conn.get('SELECT MAX(seq) AS seq FROM _mast_changes WHERE at < ?', [now - policy.maxAgeMs]))?.['seq'];
    if (old !== null && old !== undefined) through = Math.max(through, Number(old));
    await conn.run('DELETE FROM _mast_ops WHERE at < ?', [now - policy.maxAgeMs]);
  }
  if (Number.isFinite(policy.maxEntries)) {
    const keep = Math.max(0, Math.trunc(policy.maxEntries));
    const last = (await conn.get('SELECT seq FROM _mast_changes ORDER BY seq DESC LIMIT 1 OFFSET ?', [keep]))?.['seq'];
    if (last !== null && last !== undefined) through = Math.max(through, Number(last));
  }
  if (through === 0) return 0;
  const removed = await conn.run('DELETE FROM _mast_changes WHERE seq <= ?', [through]);
  const previous = Number((await readMeta(conn, PRUNED_KEY)) ?? 0);
  if (through > previous) await writeMeta(conn, PRUNED_KEY, String(through));
  return removed;
}

/** The recorded outcome of an op, or null. */
export async function getOp(conn: PgConnection, opId: string): Promise<OpRecord | null> {
  const cells = await conn.get('SELECT op_id, fingerprint, result FROM _mast_ops WHERE op_id = ?', [opId]);
  if (!cells) return null;
  const result = cells['result'];
  return {
    opId: String(cells['op_id']),
    fingerprint: String(cells['fingerprint']),
    result: typeof result === 'string' ? (JSON.parse(result) as unknown) : null,
  };
}

/** Records an op's outcome; an op id already recorded throws OP_ID_REUSED. */
export async function putOp(conn: PgConnection, op: OpRecord, now: number): Promise<void> {
  const result = op.result === undefined ? null : JSON.stringify(op.result);
  try {
    await conn.run('INSERT INTO _mast_ops (op_id, fingerprint, result, at) VALUES (?, ?, ?, ?)', [op.opId, op.fingerprint, result, now]);
  } catch (err) {
    if (isPgError(err, '23505')) {
      throw storeErrors.opIdReused(op.opId, err);
    }
    throw err;
  }
}

/** The schema recorded by the last migration, or null. */
export async function readRecordedSchema(conn: PgConnection): Promise<RecordedSchema | null> {
  const text = await readMeta(conn, SCHEMA_KEY);
  return text === null ? null : (JSON.parse(text) as RecordedSchema);
}

/** Records `schema` as the current one, inside the migration's transaction. */
export async function writeRecordedSchema(conn: PgConnection, schema: RecordedSchema): Promise<void> {
  await writeMeta(conn, SCHEMA_KEY, JSON.stringify(schema));
}
