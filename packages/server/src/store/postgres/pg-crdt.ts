import type { CrdtRecord } from '../store.js';
import type { Cells, PgConnection } from './pg-connection.js';

/** The CRDT sidecar on PostgreSQL (table in `pg-tables.ts`), one Loro snapshot per (entity, row). */

function bytes(cell: unknown): Uint8Array {
  // pg returns BYTEA as Buffers; hand out plain views so callers see one type.
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

/**
 * The stored document of a row, or null. `lock` (inside a write transaction) takes the
 * document's row lock until commit, so two transactions that change one document run one after
 * the other and the second builds on what the first committed.
 */
export async function getCrdt(conn: PgConnection, entity: string, rowId: string, lock = false): Promise<CrdtRecord | null> {
  const cells = await conn.get(`SELECT * FROM _mast_crdt WHERE entity = ? AND row_id = ?${lock ? ' FOR UPDATE' : ''}`, [entity, rowId]);
  return cells ? toRecord(cells) : null;
}

/** Inserts or replaces a row's document (inside a write transaction). */
export async function putCrdt(conn: PgConnection, record: CrdtRecord): Promise<void> {
  await conn.run(
    `INSERT INTO _mast_crdt (entity, row_id, snapshot, version, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (entity, row_id) DO UPDATE SET snapshot = excluded.snapshot, version = excluded.version, updated_at = excluded.updated_at`,
    [record.entity, record.rowId, Buffer.from(record.snapshot), Buffer.from(record.version), record.updatedAt],
  );
}

/** Deletes a row's document; true when there was one. */
export async function deleteCrdt(conn: PgConnection, entity: string, rowId: string): Promise<boolean> {
  return (await conn.run('DELETE FROM _mast_crdt WHERE entity = ? AND row_id = ?', [entity, rowId])) > 0;
}
