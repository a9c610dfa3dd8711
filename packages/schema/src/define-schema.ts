import type { FieldTypeName, Manifest, ManifestAuth, ManifestEntity, ManifestField, ManifestInput, ManifestPolicy, ManifestRelation } from './manifest-types.js';
import type { AnyFieldBuilder } from './field-builder.js';

/**
 * The TypeScript DSL. It emits the manifest Pylon's SDK emits for the same declarations (same
 * keys, same key order, same omissions), so a schema can move between the two; the additions
 * (`field.json`, entity `crdt`) appear only when used.
 */

/** An entity's fields by name, in declaration order. */
export type FieldMap = Readonly<Record<string, AnyFieldBuilder>>;

/** A declared index; `unique` defaults to false. */
export interface IndexDefinition<Name extends string = string> {
  readonly name: string;
  readonly fields: readonly Name[];
  readonly unique?: boolean;
}

/** Search configuration; the block is emitted only when some list is non-empty. */
export interface SearchDefinition<Name extends string = string> {
  readonly text?: readonly Name[];
  readonly facets?: readonly Name[];
  readonly sortable?: readonly Name[];
  readonly language?: string;
}

/** Options of `entity()`. */
export interface EntityOptions<F extends FieldMap = FieldMap> {
  readonly indexes?: readonly IndexDefinition<keyof F & string>[];
  readonly relations?: readonly Readonly<ManifestRelation>[];
  readonly search?: SearchDefinition<keyof F & string>;
  /** false: plain last-writer-wins rows without a CRDT document (Pylon's default is true). */
  readonly crdt?: boolean;
}

/** An entity declared with `entity()`: its name and builders (for row types) and its manifest entry. */
export interface EntityDefinition<N extends string = string, F extends FieldMap = FieldMap> {
  readonly name: N;
  readonly fields: F;
  readonly manifest: ManifestEntity;
}

/** One input of a query or action; `optional` defaults to false. */
export interface InputDefinition {
  readonly name: string;
  readonly type: FieldTypeName;
  readonly optional?: boolean;
}

/** A query or action declaration. */
export interface OperationDefinition {
  readonly name: string;
  readonly input?: readonly InputDefinition[];
}

/** A route declaration (used for page generation, not by the HTTP API). */
export interface RouteDefinition {
  readonly path: string;
  readonly mode: 'static' | 'server' | 'live';
  readonly query?: string;
  readonly auth?: 'public' | 'user';
}

/** A policy declaration; empty expressions are left out, as Pylon's SDK does. */
export interface PolicyDefinition {
  readonly name: string;
  readonly entity?: string;
  readonly action?: string;
  /** A room name pattern (`channel:{id}`): the policy's allowJoin decides who may join those rooms. */
  readonly room?: string;
  readonly allowJoin?: string;
  readonly allow?: string;
  readonly allowRead?: string;
  readonly allowInsert?: string;
  readonly allowUpdate?: string;
  readonly allowDelete?: string;
  readonly allowWrite?: string;
}

/** The auth block in camelCase; defineSchema emits it in the manifest's snake_case with defaults filled. */
export interface AuthOptions {
  readonly user?: { readonly entity?: string; readonly expose?: readonly string[]; readonly hide?: readonly string[] };
  readonly session?: {
    readonly expiresIn?: number;
    readonly cookieCache?: { readonly enabled?: boolean; readonly maxAge?: number; readonly claims?: readonly string[] };
  };
  readonly trustedOrigins?: readonly string[];
}

/** Everything `defineSchema` takes. */
export interface SchemaOptions<E extends EntityDefinition> {
  readonly name: string;
  readonly version: string;
  readonly entities: readonly E[];
  readonly routes?: readonly RouteDefinition[];
  readonly queries?: readonly OperationDefinition[];
  readonly actions?: readonly OperationDefinition[];
  readonly policies?: readonly PolicyDefinition[];
  readonly auth?: AuthOptions;
}

/** What `defineSchema` returns: the manifest, and the entity declarations row types are read from. */
export interface SchemaDefinition<E extends EntityDefinition = EntityDefinition> {
  readonly manifest: Manifest;
  readonly entities: readonly E[];
}

/** Declares an entity; fields are emitted in key order, `indexes` always, the rest only when set. */
export function entity<const N extends string, F extends FieldMap>(name: N, fields: F, options: EntityOptions<F> = {}): EntityDefinition<N, F> {
  const manifest: ManifestEntity = {
    name,
    fields: Object.entries(fields).map(([fieldName, builder]) => {
      const { type, optional, unique, crdt, renamedFrom } = builder.definition;
      const out: ManifestField = { name: fieldName, type, optional, unique };
      if (crdt !== undefined) out.crdt = crdt;
      if (renamedFrom !== undefined) out.renamedFrom = renamedFrom;
      return out;
    }),
    indexes: (options.indexes ?? []).map((i) => ({ name: i.name, fields: [...i.fields], unique: i.unique ?? false })),
  };
  if (options.relations !== undefined && options.relations.length > 0) {
    manifest.relations = options.relations.map((r) => ({
      name: r.name,
      target: r.target,
      field: r.field,
      ...(r.many !== undefined ? { many: r.many } : {}),
    }));
  }
  const search = options.search;
  if (search !== undefined && [search.text, search.facets, search.sortable].some((l) => (l?.length ?? 0) > 0)) {
    manifest.search = {
      text: [...(search.text ?? [])],
      facets: [...(search.facets ?? [])],
      sortable: [...(search.sortable ?? [])],
      ...(search.language !== undefined ? { language: search.language } : {}),
    };
  }
  if (options.crdt !== undefined) manifest.crdt = options.crdt;
  return Object.freeze({ name, fields, manifest });
}

function toInput(op: OperationDefinition): ManifestInput {
  const out: ManifestInput = { name: op.name };
  if (op.input !== undefined && op.input.length > 0) {
    out.input = op.input.map((f) => ({ name: f.name, type: f.type, optional: f.optional ?? false, unique: false }));
  }
  return out;
}

/** Declares a query; `input` is emitted only when non-empty. */
export function query(name: string, options: { readonly input?: readonly InputDefinition[] } = {}): ManifestInput {
  return toInput({ name, ...options });
}

/** Declares an action; `input` is emitted only when non-empty. */
export function action(name: string, options: { readonly input?: readonly InputDefinition[] } = {}): ManifestInput {
  return toInput({ name, ...options });
}

/** Declares a route; `query` and `auth` are emitted only when set. */
export function route(def: RouteDefinition): RouteDefinition {
  return {
    path: def.path,
    mode: def.mode,
    ...(def.query ? { query: def.query } : {}),
    ...(def.auth ? { auth: def.auth } : {}),
  };
}

const ALLOW_KEYS = ['allow', 'allowRead', 'allowInsert', 'allowUpdate', 'allowDelete', 'allowWrite', 'allowJoin'] as const;

/** Declares a policy: name, then the non-empty allow keys, then entity and action (Pylon's key order). */
export function policy(def: PolicyDefinition): ManifestPolicy {
  const out: ManifestPolicy = { name: def.name };
  for (const key of ALLOW_KEYS) {
    const expr = def[key];
    if (expr) out[key] = expr;
  }
  if (def.entity) out.entity = def.entity;
  if (def.action) out.action = def.action;
  if (def.room) out.room = def.room;
  return out;
}

/** Pylon's defaults for the auth block: User entity, 30-day sessions, no cookie cache. */
function toAuth(auth: AuthOptions = {}): ManifestAuth {
  return {
    user: {
      entity: auth.user?.entity ?? 'User',
      expose: [...(auth.user?.expose ?? [])],
      hide: [...(auth.user?.hide ?? [])],
    },
    session: {
      expires_in: auth.session?.expiresIn ?? 30 * 24 * 60 * 60,
      cookie_cache: {
        enabled: auth.session?.cookieCache?.enabled ?? false,
        max_age: auth.session?.cookieCache?.maxAge ?? 5 * 60,
        claims: [...(auth.session?.cookieCache?.claims ?? ['is_admin', 'tenant_id'])],
      },
    },
    trusted_origins: [...(auth.trustedOrigins ?? [])],
  };
}

/**
 * Builds the manifest (manifest_version 1, `auth` always present) from entity declarations;
 * it is not validated here — `compileManifest(schema.manifest)` does that when the app loads.
 */
export function defineSchema<const E extends EntityDefinition>(options: SchemaOptions<E>): SchemaDefinition<E> {
  const manifest: Manifest = {
    manifest_version: 1,
    name: options.name,
    version: options.version,
    entities: options.entities.map((e) => e.manifest),
    routes: (options.routes ?? []).map(route),
    queries: (options.queries ?? []).map(toInput),
    actions: (options.actions ?? []).map(toInput),
    policies: (options.policies ?? []).map(policy),
    auth: toAuth(options.auth),
  };
  return Object.freeze({ manifest, entities: options.entities });
}
