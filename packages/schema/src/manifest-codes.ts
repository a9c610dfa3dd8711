/**
 * Every diagnostic code the manifest loader can report, with the rule it stands for. Codes
 * marked `pylon` are the ones Pylon's CLI reports for the same problem; the rest cover problems
 * Pylon lets through and then fails on at runtime (or silently misbehaves on).
 */
export const manifestCodes = {
  MANIFEST_NOT_FOUND: { origin: 'mast', rule: 'the app directory has neither pylon.manifest.json nor schema.ts' },
  MANIFEST_AMBIGUOUS: { origin: 'mast', rule: 'an app directory holds one schema: pylon.manifest.json or schema.ts, not both' },
  MANIFEST_READ_FAILED: { origin: 'pylon', rule: 'the manifest file (or schema module) could not be read' },
  MANIFEST_PARSE_ERROR: { origin: 'pylon', rule: 'the manifest is not JSON of the manifest shape' },
  MANIFEST_VERSION_UNSUPPORTED: { origin: 'pylon', rule: 'manifest_version must be 1' },
  SCHEMA_EMPTY: { origin: 'pylon', rule: 'a manifest declares at least one entity' },
  ENTITY_NAME_EMPTY: { origin: 'pylon', rule: 'an entity has a name' },
  ENTITY_DUPLICATE: { origin: 'pylon', rule: 'entity names are unique (ignoring case, as SQLite does)' },
  NAME_INVALID: { origin: 'mast', rule: 'entity and field names are identifiers; entity names do not start with _mast' },
  FIELD_NAME_EMPTY: { origin: 'pylon', rule: 'a field has a name' },
  FIELD_NAME_RESERVED: { origin: 'mast', rule: 'no declared field is named id (the implicit primary key)' },
  FIELD_DUPLICATE: { origin: 'pylon', rule: 'field names are unique within an entity (ignoring case)' },
  FIELD_TYPE_UNKNOWN: { origin: 'pylon', rule: 'a field type is string, int, float, bool, datetime, richtext, json or id(Entity)' },
  FIELD_ID_TARGET_NOT_FOUND: { origin: 'pylon', rule: 'the target of id(Entity) is a declared entity' },
  FIELD_RENAME_INVALID: { origin: 'mast', rule: 'renamedFrom names an identifier that no field of the entity is called now, once per entity' },
  CRDT_KIND_INVALID: { origin: 'mast', rule: 'a crdt annotation fits the field type' },
  CRDT_ANNOTATION_IGNORED: { origin: 'mast', rule: 'crdt annotations have no effect on a crdt:false entity (warning)' },
  INDEX_NAME_EMPTY: { origin: 'pylon', rule: 'an index has a name' },
  INDEX_NAME_DUPLICATE: { origin: 'pylon', rule: 'index names (and the table index names derived from them) are unique' },
  INDEX_FIELDS_EMPTY: { origin: 'pylon', rule: 'an index lists at least one field' },
  INDEX_FIELD_NOT_FOUND: { origin: 'pylon', rule: 'index fields are declared fields of the entity' },
  RELATION_TARGET_NOT_FOUND: { origin: 'mast', rule: 'a relation target is a declared entity' },
  RELATION_FIELD_NOT_FOUND: { origin: 'mast', rule: 'a relation field is a declared field (of the entity; of the target when many)' },
  SEARCH_FIELD_NOT_FOUND: { origin: 'mast', rule: 'search text, facet and sortable fields are declared fields' },
  QUERY_NAME_EMPTY: { origin: 'pylon', rule: 'a query has a name' },
  QUERY_DUPLICATE: { origin: 'pylon', rule: 'query names are unique' },
  ACTION_NAME_EMPTY: { origin: 'pylon', rule: 'an action has a name' },
  ACTION_DUPLICATE: { origin: 'pylon', rule: 'action names are unique' },
  INPUT_FIELD_NAME_EMPTY: { origin: 'pylon', rule: 'a query or action input has a name' },
  INPUT_FIELD_DUPLICATE: { origin: 'pylon', rule: 'input names are unique within a query or action' },
  INPUT_FIELD_TYPE_UNKNOWN: { origin: 'pylon', rule: 'an input type is a known field type' },
  POLICY_NAME_EMPTY: { origin: 'pylon', rule: 'a policy has a name' },
  POLICY_DUPLICATE: { origin: 'pylon', rule: 'policy names are unique' },
  POLICY_ALLOW_EMPTY: { origin: 'pylon', rule: 'a policy sets at least one non-empty allow expression' },
  POLICY_NO_TARGET: { origin: 'pylon', rule: 'a policy names an entity or an action' },
  POLICY_ENTITY_NOT_FOUND: { origin: 'pylon', rule: 'a policy entity is a declared entity' },
  POLICY_ACTION_NOT_FOUND: { origin: 'pylon', rule: 'a policy action is a declared action' },
  ROUTE_PATH_EMPTY: { origin: 'pylon', rule: 'a route has a path' },
  ROUTE_PATH_NO_SLASH: { origin: 'pylon', rule: 'a route path starts with /' },
  ROUTE_PATH_DUPLICATE: { origin: 'pylon', rule: 'route paths are unique' },
  ROUTE_QUERY_NOT_FOUND: { origin: 'pylon', rule: 'a route query is a declared query' },
  ROUTE_PARAM_NOT_IN_QUERY: { origin: 'pylon', rule: 'every :param of a route path is an input of its query' },
  ROUTE_AUTH_INVALID: { origin: 'pylon', rule: 'a route auth is public or user' },
  ROUTE_MODE_INVALID: { origin: 'mast', rule: 'a route mode is static, server or live' },
} as const satisfies Record<string, { origin: 'pylon' | 'mast'; rule: string }>;

/** A manifest diagnostic code. */
export type ManifestCode = keyof typeof manifestCodes;
