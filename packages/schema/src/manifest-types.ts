/**
 * The manifest as it is written on disk (`pylon.manifest.json`), in Pylon's format: snake_case
 * at the top level, camelCase allow keys in policies. Mast adds the `json` field type.
 */

/** A scalar field type string as it appears in a manifest. */
export type FieldTypeName = 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'richtext' | 'json' | `id(${string})`;

/** A CRDT container override on a field. */
export type CrdtKind = 'lww' | 'text' | 'counter' | 'list' | 'movable-list' | 'tree';

export interface ManifestField {
  name: string;
  type: FieldTypeName;
  optional: boolean;
  unique: boolean;
  crdt?: CrdtKind;
}

export interface ManifestIndex {
  name: string;
  fields: string[];
  unique: boolean;
}

export interface ManifestRelation {
  name: string;
  target: string;
  field: string;
  many?: boolean;
}

export interface ManifestSearch {
  text: string[];
  facets: string[];
  sortable: string[];
  language?: string;
}

export interface ManifestEntity {
  name: string;
  fields: ManifestField[];
  indexes: ManifestIndex[];
  relations?: ManifestRelation[];
  search?: ManifestSearch;
  /** Loro-backed rows; Pylon's default is true. */
  crdt?: boolean;
}

export interface ManifestInput {
  name: string;
  input?: ManifestField[];
}

export interface ManifestRoute {
  path: string;
  mode: string;
  query?: string;
  auth?: string;
}

export interface ManifestPolicy {
  name: string;
  entity?: string;
  action?: string;
  allow?: string;
  allowRead?: string;
  allowInsert?: string;
  allowUpdate?: string;
  allowDelete?: string;
  allowWrite?: string;
}

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
