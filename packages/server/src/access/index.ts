export { AccessControl } from './access-control.js';
export { SchemaRef } from './schema-ref.js';
export { explainPolicy } from './policy-explain.js';
export type { PolicyExplanation } from './policy-explain.js';
export { missingRelationIndexes } from './relation-indexes.js';
export type { MissingRelationIndex } from './relation-indexes.js';
