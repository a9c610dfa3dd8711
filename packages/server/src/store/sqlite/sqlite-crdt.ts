import type { CrdtRecord } from '../store.js';
import type { Cells, SqliteConnection } from './sqlite-connection.js';

/**
 * The CRDT sidecar: one Loro snapshot per (entity, row). It is written in the same
 * transaction as the row it belongs to, so the projected row and its document never disagree.
 */
export const CRDT_TABLE = `
CREATE TABLE IF NOT EXISTS _mast_crdt (
  entity TEXT NOT NULL,
  row_id TEXT NOT NULL,
  snapshot BLOB NOT NULL,
  version BLOB NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (entity, row_id)
) WITHOUT ROWID;
`;

/** Creates the sidecar table when it is missing (on the writer, at open). */
export function ensureCrdtTable(conn: SqliteConnection): void {
  conn.exec(CRDT_TABLE);
}

function bytes(cell: unknown): Uint8Array {
  // better-sqlite3 returns BLOBs as Buffers; hand out plain views so callers see one type.
  return cell instanceof Uint8Array ? new Uint8Array(cell.buffer, cell.byteOffset, cell.byteLength) : new Uint8Array(0);
}

function toRecord(cells: Cells): CrdtRecord {
  return {
    entity: String(cells['entity']),
    rowId: String(cells['row_id']),
    snapshot: bytes(cells['snapshot']),
    version: bytes(cells['version']),
    updatedAt: Number(cells['updated_at']),
  };
}

/** The stored document of a row, or null. */
export function getCrdt(conn: SqliteConnection, entity: string, rowId: string): CrdtRecord | null {
  const cells = conn.get('SELECT * FROM _mast_crdt WHERE entity = ? AND row_id = ?', [entity, rowId]);
  return cells ? toRecord(cells) : null;
}

/** Inserts or replaces a row's document (inside a write transaction). */
export function putCrdt(conn: SqliteConnection, record: CrdtRecord): void {
  conn.run(
    `INSERT INTO _mast_crdt (entity, row_id, snapshot, version, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (entity, row_id) DO UPDATE SET snapshot = excluded.snapshot, version = excluded.version, updated_at = excluded.updated_at`,
    [record.entity, record.rowId, Buffer.from(record.snapshot), Buffer.from(record.version), record.updatedAt],
  );
}

/** Deletes a row's document; true when there was one. */
export function deleteCrdt(conn: SqliteConnection, entity: string, rowId: string): boolean {
  return conn.run('DELETE FROM _mast_crdt WHERE entity = ? AND row_id = ?', [entity, rowId]) > 0;
}
