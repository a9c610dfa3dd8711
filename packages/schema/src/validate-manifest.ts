import type { FieldTypeName, Manifest, ManifestAuth, ManifestEntity, ManifestField, ManifestInput, ManifestPolicy, ManifestRoute } from './manifest-types.js';
import { diagnostic, hasErrors, type Diagnostic } from './manifest-error.js';
import { parseManifestShape, type ParsedEntity, type ParsedField, type ParsedManifest } from './manifest-shape.js';
import { checkEntities } from './check-entities.js';
import { checkOperationsAndAccess } from './check-operations.js';

/** The outcome of checking a manifest: the normalised manifest when there is no error, and every diagnostic. */
export interface ManifestValidation {
  readonly manifest: Manifest | null;
  readonly diagnostics: Diagnostic[];
}

function checkTopLevel(manifest: ParsedManifest): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (manifest.manifest_version !== 1) {
    out.push(diagnostic('MANIFEST_VERSION_UNSUPPORTED', 'manifest_version', `manifest_version ${manifest.manifest_version} is not supported (expected 1)`));
  }
  if (manifest.entities.length === 0) {
    out.push(diagnostic('SCHEMA_EMPTY', 'entities', 'the manifest declares no entities', 'declare at least one entity'));
  }
  return out;
}

// Normalisation: the parsed shape has `null` where Pylon has `None`, and `undefined` for absent
// keys; the Manifest type has neither. Only called once every field type has been checked.

function toField(field: ParsedField): ManifestField {
  const out: ManifestField = {
    name: field.name,
    type: field.type as FieldTypeName,
    optional: field.optional,
    unique: field.unique,
  };
  if (field.crdt != null) out.crdt = field.crdt;
  if (field.renamedFrom != null) out.renamedFrom = field.renamedFrom;
  return out;
}

function toEntity(entity: ParsedEntity): ManifestEntity {
  const out: ManifestEntity = {
    name: entity.name,
    fields: entity.fields.map(toField),
    indexes: entity.indexes.map((i) => ({ name: i.name, fields: [...i.fields], unique: i.unique })),
  };
  if (entity.relations !== undefined) {
    out.relations = entity.relations.map((r) => ({
      name: r.name,
      target: r.target,
      field: r.field,
      ...(r.many !== undefined ? { many: r.many } : {}),
    }));
  }
  if (entity.search != null) {
    const s = entity.search;
    out.search = {
      text: [...(s.text ?? [])],
      facets: [...(s.facets ?? [])],
      sortable: [...(s.sortable ?? [])],
      ...(s.language != null ? { language: s.language } : {}),
    };
  }
  if (entity.crdt !== undefined) out.crdt = entity.crdt;
  return out;
}

function toInput(op: NonNullable<ParsedManifest['queries']>[number]): ManifestInput {
  return op.input !== undefined ? { name: op.name, input: op.input.map(toField) } : { name: op.name };
}

function toRoute(route: ParsedManifest['routes'][number]): ManifestRoute {
  const out: ManifestRoute = { path: route.path, mode: route.mode };
  if (route.query != null) out.query = route.query;
  if (route.auth != null) out.auth = route.auth;
  return out;
}

function toPolicy(policy: NonNullable<ParsedManifest['policies']>[number]): ManifestPolicy {
  const out: ManifestPolicy = { name: policy.name };
  if (policy.entity != null) out.entity = policy.entity;
  if (policy.action != null) out.action = policy.action;
  if (policy.room != null) out.room = policy.room;
  if (policy.allow !== undefined) out.allow = policy.allow;
  for (const key of ['allowRead', 'allowInsert', 'allowUpdate', 'allowDelete', 'allowWrite', 'allowJoin'] as const) {
    const value = policy[key];
    if (value != null) out[key] = value;
  }
  return out;
}

function toAuth(auth: NonNullable<ParsedManifest['auth']>): ManifestAuth {
  const out: ManifestAuth = {};
  if (auth.user !== undefined) {
    const u = auth.user;
    out.user = {
      ...(u.entity !== undefined ? { entity: u.entity } : {}),
      ...(u.expose !== undefined ? { expose: [...u.expose] } : {}),
      ...(u.hide !== undefined ? { hide: [...u.hide] } : {}),
    };
  }
  if (auth.session !== undefined) {
    const s = auth.session;
    const c = s.cookie_cache;
    out.session = {
      ...(s.expires_in !== undefined ? { expires_in: s.expires_in } : {}),
      ...(c !== undefined
        ? {
            cookie_cache: {
              ...(c.enabled !== undefined ? { enabled: c.enabled } : {}),
              ...(c.max_age !== undefined ? { max_age: c.max_age } : {}),
              ...(c.claims !== undefined ? { claims: [...c.claims] } : {}),
            },
          }
        : {}),
    };
  }
  if (auth.trusted_origins !== undefined) out.trusted_origins = [...auth.trusted_origins];
  return out;
}

function toManifest(parsed: ParsedManifest): Manifest {
  const out: Manifest = {
    manifest_version: 1,
    name: parsed.name,
    version: parsed.version,
    entities: parsed.entities.map(toEntity),
    routes: parsed.routes.map(toRoute),
  };
  if (parsed.queries !== undefined) out.queries = parsed.queries.map(toInput);
  if (parsed.actions !== undefined) out.actions = parsed.actions.map(toInput);
  if (parsed.policies !== undefined) out.policies = parsed.policies.map(toPolicy);
  if (parsed.auth !== undefined) out.auth = toAuth(parsed.auth);
  return out;
}

/**
 * Parses and checks a manifest without throwing: every problem is reported (shape errors stop
 * the rule checks, as in Pylon). Unknown keys are dropped from the returned manifest.
 */
export function validateManifest(raw: unknown): ManifestValidation {
  const shape = parseManifestShape(raw);
  if (!shape.ok) return { manifest: null, diagnostics: shape.diagnostics };
  const parsed = shape.manifest;
  const diagnostics = [...checkTopLevel(parsed), ...checkEntities(parsed), ...checkOperationsAndAccess(parsed)];
  return { manifest: hasErrors(diagnostics) ? null : toManifest(parsed), diagnostics };
}
