/**
 * The manifest as it is written on disk (`pylon.manifest.json`), in Pylon's format: snake_case
 * at the top level, camelCase allow keys in policies. Mast adds the `json` field type.
 */

/** A scalar field type string as it appears in a manifest. */
export type FieldTypeName = 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'richtext' | 'json' | `id(${string})`;

/** A CRDT container override on a field. */
export type CrdtKind = 'lww' | 'text' | 'counter' | 'list' | 'movable-list' | 'tree';

/** A field of an entity, or an input of a query or action. */
export interface ManifestField {
  name: string;
  type: FieldTypeName;
  optional: boolean;
  unique: boolean;
  crdt?: CrdtKind;
  /**
   * Mast extension: the field's previous name. A migration from a schema that has a field of that
   * name renames its column (values kept) instead of dropping it and adding this one.
   */
  renamedFrom?: string;
}

/** A declared index; its table index is named `<Entity>__<name>` (see schema-indexes.ts). */
export interface ManifestIndex {
  name: string;
  fields: string[];
  unique: boolean;
}

/** A named link from an entity to another through one of its fields. */
export interface ManifestRelation {
  name: string;
  target: string;
  field: string;
  many?: boolean;
}

/** Full-text search configuration of an entity. */
export interface ManifestSearch {
  text: string[];
  facets: string[];
  sortable: string[];
  language?: string;
}

/** An entity: one table, with the implicit `id` primary key not listed in `fields`. */
export interface ManifestEntity {
  name: string;
  fields: ManifestField[];
  indexes: ManifestIndex[];
  relations?: ManifestRelation[];
  search?: ManifestSearch;
  /** Loro-backed rows; Pylon's default is true. */
  crdt?: boolean;
}

/** A query or action with its inputs. */
export interface ManifestInput {
  name: string;
  input?: ManifestField[];
}

/** A page route (used for page generation, not by the HTTP API). */
export interface ManifestRoute {
  path: string;
  mode: string;
  query?: string;
  auth?: string;
}

/**
 * An access rule on an entity, an action or (Mast) the rooms whose names match a pattern; the
 * allow keys are camelCase. A room policy has `room` (e.g. `channel:{id}`) and `allowJoin` only.
 */
export interface ManifestPolicy {
  name: string;
  entity?: string;
  action?: string;
  room?: string;
  allowJoin?: string;
  allow?: string;
  allowRead?: string;
  allowInsert?: string;
  allowUpdate?: string;
  allowDelete?: string;
  allowWrite?: string;
}

/** The auth block, snake_case; every key is optional and defaults as in Pylon. */
export interface ManifestAuth {
  user?: { entity?: string; expose?: string[]; hide?: string[] };
  session?: {
    expires_in?: number;
    cookie_cache?: { enabled?: boolean; max_age?: number; claims?: string[] };
  };
  trusted_origins?: string[];
}

/** A whole manifest, `manifest_version` 1. */
export interface Manifest {
  manifest_version: 1;
  name: string;
  version: string;
  entities: ManifestEntity[];
  routes: ManifestRoute[];
  queries?: ManifestInput[];
  actions?: ManifestInput[];
  policies?: ManifestPolicy[];
  auth?: ManifestAuth;
}
