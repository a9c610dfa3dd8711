import type { JsonLimits } from '@mast/protocol';
import { decodeImportBlobMeta, type LoroDoc, type VersionVector } from 'loro-crdt';
import type { EntitySchema } from '@mast/schema';
import type { AccessControl } from '../access/index.js';
import type { AuthContext } from '../access/auth-context.js';
import { type AppError, crdtErrors, errors } from '../errors/index.js';
import { coerceFieldValue } from '../entities/value-codec.js';
import type { Row, WriteTx } from '../store/index.js';
import { checkFields, projectDoc, writeFields } from './row-doc.js';
import type { CrdtStage } from './row-docs.js';
import type { MergeOutcome } from '../entities/crdt-rows.js';

/** The fields whose projected value differs from `current` (all of them when there is no row yet). */
function changedFields(projected: Record<string, unknown>, current: Row | null): Record<string, unknown> {
  if (!current) return projected;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(projected)) {
    if (JSON.stringify(value) !== JSON.stringify(current[name] ?? null)) out[name] = value;
  }
  return out;
}

/**
 * A JSON write (REST, batch, transact, sync push, functions) to a row of a CRDT entity. A row
 * gets its document only when something needs it (a CRDT subscribe or push materialises it
 * from the row), so a row without one is written as SQL only: `sqlWrite(values)`, after the
 * checks its document would make. A row with one keeps document and row together: the values
 * go into the document as this transaction holds it, its projection is what `sqlWrite` stores,
 * and the document is persisted only when the SQL write found its row (otherwise, or on a
 * throw, the document's changes are dropped). An insert drops any document left under its id.
 * Returns the row `sqlWrite` returned. `current` is the row before the write (null for an insert).
 */
export async function writeRowDoc(
  stage: CrdtStage,
  tx: WriteTx,
  entity: EntitySchema,
  rowId: string,
  current: Row | null,
  values: Readonly<Record<string, unknown>>,
  sqlWrite: (values: Record<string, unknown>) => Promise<Row | null>,
): Promise<Row | null> {
  const doc = await stage.existing(tx, entity.name, rowId);
  if (!doc || !current) {
    if (doc) await stage.remove(tx, entity.name, rowId);
    checkFields(entity, values);
    return sqlWrite({ ...values });
  }
  try {
    writeFields(doc, entity, values);
    const row = await sqlWrite(changedFields(projectDoc(doc, entity), current));
    if (row) await stage.save(tx, entity.name, rowId, doc);
    else stage.failed(entity.name, rowId);
    return row;
  } catch (err) {
    stage.failed(entity.name, rowId);
    throw err;
  }
}

/**
 * Merges a client's Loro update (or snapshot) into a row's document, inside a write
 * transaction. The row must exist and be readable (else NOT_FOUND) and updatable by `auth`
 * before the merge; the bytes are imported into the transaction's copy of the document, so
 * bytes that do not decode (CRDT_DECODE_FAILED), that depend on changes the server lacks
 * (CRDT_MISSING_DEPENDENCIES), that project to invalid field values, or whose result the
 * update policy refuses (or past `jsonLimits`: JSON_TOO_DEEP), leave the committed document and the row as they were.
 */
export async function mergeUpdate(
  stage: CrdtStage,
  tx: WriteTx,
  access: AccessControl,
  auth: AuthContext,
  entity: EntitySchema,
  rowId: string,
  update: Uint8Array,
  jsonLimits?: JsonLimits,
): Promise<MergeOutcome> {
  const notFound = (): AppError => errors.rowNotFound(entity.name, rowId);
  const before = await tx.get(entity.name, rowId);
  if (!before || !access.canRead(auth, entity.name, before)) throw notFound();
  access.checkUpdate(auth, entity.name, before, before, {});
  const doc = await stage.open(tx, entity, rowId, before);
  try {
    const version = doc.oplogVersion();
    let pending: boolean;
    try {
      pending = doc.import(update).pending !== null;
    } catch (err) {
      throw crdtErrors.undecodable(entity.name, rowId, err);
    }
    if (pending) {
      throw crdtErrors.missingDependencies(entity.name, rowId);
    }
    if (startsAnotherHistory(doc, version, update)) {
      throw crdtErrors.unrelatedHistory(entity.name, rowId);
    }
    if (doc.oplogVersion().compare(version) === 0) return { before, row: before, docChanged: false, rowChanged: false };
    const projected = projectDoc(doc, entity);
    for (const field of entity.fields) projected[field.name] = coerceFieldValue(entity, field, projected[field.name], jsonLimits);
    const patch = changedFields(projected, before);
    const after: Row = { ...before, ...patch };
    access.checkUpdate(auth, entity.name, before, after, patch);
    const rowChanged = Object.keys(patch).length > 0;
    const row = rowChanged ? await tx.update(entity.name, rowId, patch) : before;
    if (!row) throw notFound();
    await stage.save(tx, entity.name, rowId, doc);
    return { before, row, docChanged: true, rowChanged };
  } catch (err) {
    // Whatever the import added (pending ops included) must not reach a later save or the cache.
    stage.failed(entity.name, rowId);
    throw err;
  }
}

/**
 * True when `update`, now imported into `doc` (which held `before`), brings a change that builds
 * on nothing although the document already had history: edits made on a document a client
 * created by itself. Merging them would put two independent histories side by side (two
 * offline creations of the same text concatenate), so the row's first history wins and such
 * updates are refused. Only peers new to the document can bring one: a peer's first change is
 * a root exactly when it has no dependencies.
 */
function startsAnotherHistory(doc: LoroDoc, before: VersionVector, update: Uint8Array): boolean {
  if (before.length() === 0) return false;
  const meta = decodeImportBlobMeta(update, false);
  // A snapshot's start vector is empty: every peer it holds starts at counter 0.
  const start = meta.partialStartVersionVector.toJSON();
  for (const peer of meta.partialEndVersionVector.toJSON().keys()) {
    if ((start.get(peer) ?? 0) !== 0 || before.get(peer) !== undefined) continue;
    if (doc.getChangeAt({ peer, counter: 0 }).deps.length === 0) return true;
  }
  return false;
}
