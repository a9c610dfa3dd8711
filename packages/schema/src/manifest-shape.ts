import { z } from 'zod';
import { diagnostic, type Diagnostic } from './manifest-error.js';

/**
 * The JSON shape of a manifest, as strict as Pylon's serde parse and a little less: unknown keys
 * are ignored (and dropped); keys that are `Option<…>` in Pylon also accept `null`; keys with a
 * serde default may be absent but not `null`. A hand-written manifest may also leave out the
 * keys Pylon's generator always writes: a field's `optional` and `unique` (default `false`), an
 * index's `unique` (`false`), an entity's `indexes` and the top-level `routes` (`[]`). Field
 * types and names are plain strings here — their rules are checked afterwards, so that all
 * problems are reported together.
 */

const crdtKind = z.enum(['lww', 'text', 'counter', 'list', 'movable-list', 'tree']);
const u32 = z.number().int().min(0).max(4_294_967_295);
const u64 = z.number().int().min(0);
const strings = z.array(z.string());

const fieldShape = z.object({
  name: z.string(),
  type: z.string(),
  optional: z.boolean().default(false),
  unique: z.boolean().default(false),
  crdt: crdtKind.nullish(),
  renamedFrom: z.string().nullish(),
});

const entityShape = z.object({
  name: z.string(),
  fields: z.array(fieldShape),
  indexes: z.array(z.object({ name: z.string(), fields: strings, unique: z.boolean().default(false) })).default([]),
  relations: z.array(z.object({ name: z.string(), target: z.string(), field: z.string(), many: z.boolean().optional() })).optional(),
  search: z
    .object({
      text: strings.optional(),
      facets: strings.optional(),
      sortable: strings.optional(),
      language: z.string().nullish(),
    })
    .nullish(),
  crdt: z.boolean().optional(),
});

const inputShape = z.object({ name: z.string(), input: z.array(fieldShape).optional() });

const policyShape = z.object({
  name: z.string(),
  entity: z.string().nullish(),
  action: z.string().nullish(),
  room: z.string().nullish(),
  allowJoin: z.string().nullish(),
  allow: z.string().optional(),
  allowRead: z.string().nullish(),
  allowInsert: z.string().nullish(),
  allowUpdate: z.string().nullish(),
  allowDelete: z.string().nullish(),
  allowWrite: z.string().nullish(),
});

const authShape = z.object({
  user: z.object({ entity: z.string().optional(), expose: strings.optional(), hide: strings.optional() }).optional(),
  session: z
    .object({
      expires_in: u64.optional(),
      cookie_cache: z.object({ enabled: z.boolean().optional(), max_age: u64.optional(), claims: strings.optional() }).optional(),
    })
    .optional(),
  trusted_origins: strings.optional(),
});

/** Zod schema of the manifest's JSON shape (structure only; rules are in `validateManifest`). */
export const manifestShape = z.object({
  manifest_version: u32,
  name: z.string(),
  version: z.string(),
  entities: z.array(entityShape),
  routes: z.array(z.object({ path: z.string(), mode: z.string(), query: z.string().nullish(), auth: z.string().nullish() })).default([]),
  queries: z.array(inputShape).optional(),
  actions: z.array(inputShape).optional(),
  policies: z.array(policyShape).optional(),
  auth: authShape.optional(),
});

/** A manifest that has the right JSON shape but whose rules are not checked yet. */
export type ParsedManifest = z.output<typeof manifestShape>;
/** One entity of a ParsedManifest. */
export type ParsedEntity = ParsedManifest['entities'][number];
/** One field (or query/action input) of a ParsedManifest. */
export type ParsedField = ParsedEntity['fields'][number];

/** Array keys whose elements are named by their `name` (or, for routes, `path`) in diagnostic paths. */
const NAMED_LISTS = new Set(['entities', 'fields', 'indexes', 'relations', 'queries', 'actions', 'policies', 'input', 'routes']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Formats a zod issue path against the raw input, naming list elements:
 * `["entities",1,"fields",0,"type"]` → `entities[1] Todo.fields[0] title.type`.
 */
export function describeRawPath(raw: unknown, path: readonly PropertyKey[]): { text: string; present: boolean } {
  let text = '';
  let node: unknown = raw;
  let present = true;
  let listKey: string | undefined;
  for (const segment of path) {
    if (typeof segment === 'number') {
      text += `[${segment}]`;
      node = Array.isArray(node) ? node[segment] : undefined;
      const label = isRecord(node) ? (listKey === 'routes' ? node['path'] : node['name']) : undefined;
      if (listKey !== undefined && NAMED_LISTS.has(listKey) && typeof label === 'string' && label !== '') {
        text += ` ${label}`;
      }
    } else {
      const key = String(segment);
      text += text === '' ? key : `.${key}`;
      present = isRecord(node) && Object.hasOwn(node, key);
      node = isRecord(node) ? node[key] : undefined;
      listKey = key;
    }
  }
  return { text, present };
}

/** Parses the shape; on failure returns one MANIFEST_PARSE_ERROR per zod issue, with named paths. */
export function parseManifestShape(raw: unknown): { ok: true; manifest: ParsedManifest } | { ok: false; diagnostics: Diagnostic[] } {
  const result = manifestShape.safeParse(raw);
  if (result.success) return { ok: true, manifest: result.data };
  // Wrong values first, missing keys after: a value of the wrong type is the likelier mistake.
  const issues = result.error.issues.map((issue) => ({ issue, ...describeRawPath(raw, issue.path) }));
  issues.sort((a, b) => Number(!a.present) - Number(!b.present));
  const diagnostics = issues.map(({ issue, text, present }) => {
    const problem = !present && issue.code === 'invalid_type' && issue.path.length > 0 ? `required key is missing (expected ${issue.expected})` : issue.message;
    const where = text === '' ? 'top level' : text;
    return diagnostic(
      'MANIFEST_PARSE_ERROR',
      text,
      `Invalid manifest JSON: ${where}: ${problem}`,
      "the manifest must be JSON of the shape produced by defineSchema (or Pylon's buildManifest)",
    );
  });
  return { ok: false, diagnostics };
}
