import type { CrdtRowStage, CrdtRows } from '../entities/crdt-rows.js';
import { mergeUpdate, writeRowDoc } from './crdt-writes.js';
import type { CrdtStage, RowDocs } from './row-docs.js';

/** The write path's view of `docs`: each write transaction stages its document changes. */
export function crdtRows(docs: RowDocs): CrdtRows {
  return { stage: () => stageRows(docs.stage()) };
}

function stageRows(stage: CrdtStage): CrdtRowStage {
  return {
    write: (tx, entity, rowId, current, values, sqlWrite) => writeRowDoc(stage, tx, entity, rowId, current, values, sqlWrite),
    merge: (tx, access, auth, entity, rowId, update, jsonLimits) => mergeUpdate(stage, tx, access, auth, entity, rowId, update, jsonLimits),
    remove: (tx, entity, rowId) => stage.remove(tx, entity, rowId),
    commit: () => stage.commit(),
  };
}
