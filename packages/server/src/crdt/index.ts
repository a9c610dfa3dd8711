/** CRDT rows: one Loro document per row of a CRDT entity, its projection, cache and sync. */
export { RowDocs, CrdtStage } from './row-docs.js';
export type { RowDocsOptions, CommittedDocListener } from './row-docs.js';
export { containerKindOf, projectDoc, writeFields, ROW_MAP } from './row-doc.js';
export type { ContainerKind } from './row-doc.js';
export { DocCache } from './doc-cache.js';
