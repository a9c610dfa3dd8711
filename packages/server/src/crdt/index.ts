/** CRDT rows: one Loro document per row of a CRDT entity, its projection, cache and sync. */
export { RowDocs, CrdtStage } from './row-docs.js';
export { crdtRows } from './crdt-rows.js';
export type { RowDocsOptions, CommittedDocListener } from './row-docs.js';
export { containerKindOf, projectDoc, writeFields, ROW_MAP } from './row-doc.js';
export type { ContainerKind } from './row-doc.js';
export { DocCache } from './doc-cache.js';
export { CrdtHub } from './crdt-hub.js';
export type { CrdtSink, CrdtHubDeps } from './crdt-hub.js';
export { pushCrdtUpdate, updateFromJsonBody } from './crdt-push.js';
export type { PushOutcome } from './crdt-push.js';
