import type { CrdtKind, Manifest, ManifestIndex, ManifestRelation, ManifestSearch } from './manifest-types.js';

/** The storage kind of a field, with `id(X)` split into kind `id` and `target` X. */
export type FieldKind = 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'richtext' | 'json' | 'id';

/** One declared field, resolved. The implicit primary key `id` is not a FieldSchema. */
export interface FieldSchema {
  readonly name: string;
  readonly kind: FieldKind;
  /** Target entity of an `id(X)` field. */
  readonly target?: string;
  readonly optional: boolean;
  readonly unique: boolean;
  readonly crdt?: CrdtKind;
  /** The name the field had before a rename (see ManifestField.renamedFrom). */
  readonly renamedFrom?: string;
}

/** One entity, resolved: fields in manifest order and by name. */
export interface EntitySchema {
  readonly name: string;
  readonly fields: readonly FieldSchema[];
  readonly fieldsByName: ReadonlyMap<string, FieldSchema>;
  readonly indexes: readonly ManifestIndex[];
  readonly relations: readonly ManifestRelation[];
  readonly search?: ManifestSearch;
  readonly crdt: boolean;
}

/** A validated manifest with its entities resolved for lookups. Frozen; replaced on reload. */
export interface AppSchema {
  readonly manifest: Manifest;
  readonly entities: readonly EntitySchema[];
  readonly entitiesByName: ReadonlyMap<string, EntitySchema>;
}
