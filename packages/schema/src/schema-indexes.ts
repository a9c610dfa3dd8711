import type { EntitySchema } from './app-schema.js';
import type { ManifestIndex } from './manifest-types.js';

/**
 * Table indexes are named by Mast, not by the manifest, because index names share one namespace
 * per database (SQLite) or schema (PostgreSQL). Each index has a name relative to its entity —
 * the declared name (`by_room`), or `<field>__unique` for a unique field — and its table index
 * is `<Entity>__<relative name>`: `Message__by_room`, `User__email__unique`. Migration steps
 * carry relative names; stores turn them into table index names with `declaredIndexName`.
 */

/** The table index name of an index with the given entity-relative name (declared, or `<field>__unique`). */
export function declaredIndexName(entity: string, index: string): string {
  return `${entity}__${index}`;
}

/** The entity-relative name of a unique field's index: `<field>__unique`. */
export function uniqueFieldIndex(field: string): string {
  return `${field}__unique`;
}

/** The table index name of a unique field's index: `<Entity>__<field>__unique`. */
export function uniqueIndexName(entity: string, field: string): string {
  return declaredIndexName(entity, uniqueFieldIndex(field));
}

/** Every index of an entity under entity-relative names (declared first, then unique fields), as migration steps carry them. */
export function entityIndexesOf(entity: EntitySchema): ManifestIndex[] {
  return [
    ...entity.indexes.map((index) => ({ name: index.name, fields: [...index.fields], unique: index.unique })),
    ...entity.fields.filter((f) => f.unique).map((f) => ({ name: uniqueFieldIndex(f.name), fields: [f.name], unique: true })),
  ];
}

/** The single-column unique indexes an entity's unique fields need, in field order, under table index names. */
export function uniqueIndexesOf(entity: EntitySchema): ManifestIndex[] {
  return entity.fields.filter((f) => f.unique).map((f) => ({ name: uniqueIndexName(entity.name, f.name), fields: [f.name], unique: true }));
}

/** Every index the entity's table must have (declared ones first, then unique fields), under table index names. */
export function indexesOf(entity: EntitySchema): ManifestIndex[] {
  return entityIndexesOf(entity).map((index) => ({ ...index, name: declaredIndexName(entity.name, index.name) }));
}
