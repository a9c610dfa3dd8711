import type { EntitySchema, FieldSchema } from './app-schema.js';
import type { Manifest, ManifestIndex } from './manifest-types.js';

/**
 * What the database must do to match a new schema. Computed by `diffSchemas` from the schema
 * recorded at the last migration (or from introspected tables), executed by a store backend.
 *
 * Storage conventions every backend follows: one table per entity named as the entity, `id`
 * text primary key, one column per field; required-ness is enforced by the write path, not by
 * NOT NULL, so it can change without rebuilding tables; unique fields and unique indexes are
 * unique indexes (NULLs never collide).
 *
 * Indexes in `createIndex`/`dropIndex` steps carry names relative to their entity: the declared
 * index name, or `<field>__unique` for a unique field. The table index is named
 * `<Entity>__<name>` (`declaredIndexName`; `indexesOf` lists a table's indexes that way). Stores
 * create indexes with IF NOT EXISTS and drop them with IF EXISTS: `createTable` and `changeType`
 * may already have (re)built an index that a later step names again.
 */
export type MigrationStep =
  | { readonly kind: 'createTable'; readonly entity: EntitySchema }
  | { readonly kind: 'addColumn'; readonly entity: string; readonly field: FieldSchema }
  /**
   * A field declared with `renamedFrom`: the column `from` takes the field's name, values kept.
   * On a crdt entity the store also drops the entity's stored documents, which keep values under
   * field names: each is seeded again from the renamed row on its next use.
   */
  | { readonly kind: 'renameColumn'; readonly entity: string; readonly from: string; readonly field: FieldSchema }
  | { readonly kind: 'createIndex'; readonly entity: string; readonly index: ManifestIndex }
  | { readonly kind: 'dropIndex'; readonly entity: string; readonly index: ManifestIndex }
  /** optional → required: the store refuses it while NULLs exist in that column. */
  | { readonly kind: 'requireColumn'; readonly entity: string; readonly field: FieldSchema }
  /** Metadata only (required → optional, crdt annotation, relation, search changes). */
  | { readonly kind: 'noteChange'; readonly entity: string; readonly detail: string }
  // Destructive: applied only when the caller allows destructive changes.
  | { readonly kind: 'dropColumn'; readonly entity: string; readonly field: string }
  | { readonly kind: 'changeType'; readonly entity: string; readonly from: FieldSchema; readonly to: FieldSchema }
  | { readonly kind: 'dropTable'; readonly entity: string };

/** An ordered list of steps, with the destructive ones marked. */
export interface MigrationPlan {
  readonly steps: readonly MigrationStep[];
  /** True when any step loses data (drop column/table, change type). */
  readonly destructive: boolean;
}

/** The schema a store recorded at its last migration. */
export interface RecordedSchema {
  readonly manifest: Manifest;
  readonly appliedAt: string;
}
