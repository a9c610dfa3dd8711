export type * from './manifest-types.js';
export type * from './app-schema.js';
export type * from './migration-plan.js';
export { resolveSchema, parseFieldType } from './resolve-schema.js';

export { manifestCodes } from './manifest-codes.js';
export type { ManifestCode } from './manifest-codes.js';
export { ManifestError, formatDiagnostics, hasErrors } from './manifest-error.js';
export type { Diagnostic } from './manifest-error.js';
export { manifestShape } from './manifest-shape.js';
export type { ParsedManifest } from './manifest-shape.js';
export { validateManifest } from './validate-manifest.js';
export type { ManifestValidation } from './validate-manifest.js';
export { compileManifest } from './compile-manifest.js';
export { loadManifestFile, loadAppSchema, MANIFEST_FILE, SCHEMA_MODULE } from './load-app-schema.js';

export { field } from './field-builder.js';
export type { FieldBuilder, AnyFieldBuilder, FieldDefinition, JsonValue } from './field-builder.js';
export { entity, policy, query, action, route, defineSchema } from './define-schema.js';
export type {
  FieldMap,
  IndexDefinition,
  SearchDefinition,
  EntityOptions,
  EntityDefinition,
  InputDefinition,
  OperationDefinition,
  RouteDefinition,
  PolicyDefinition,
  AuthOptions,
  SchemaOptions,
  SchemaDefinition,
} from './define-schema.js';
export type { FieldValue, RowOf, EntityName, InferEntityRow, InferRow, Row } from './row-types.js';

export { indexesOf, uniqueIndexesOf, entityIndexesOf, declaredIndexName, uniqueIndexName, uniqueFieldIndex } from './schema-indexes.js';
export { diffSchemas, isDestructiveStep, fieldTypeText } from './diff-schemas.js';
export { describePlan } from './describe-plan.js';
export type * from './filter-ast.js';
export { evaluateFilter, bindOuterRow, relatedMayMatch } from './evaluate-filter.js';
export { compareValues, valuesEqual, compareCodePoints } from './compare-values.js';
export { parseLike, renderLike, foldCase } from './like-pattern.js';
export { parseRoomPattern } from './room-pattern.js';
export type { RoomPattern } from './room-pattern.js';
export type { LikeToken } from './like-pattern.js';
export { totalOrder } from './total-order.js';
export { closest, didYouMean } from './suggest-name.js';
