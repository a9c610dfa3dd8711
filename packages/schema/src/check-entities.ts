import type { CrdtKind } from './manifest-types.js';
import type { FieldKind } from './app-schema.js';
import { diagnostic, type Diagnostic } from './manifest-error.js';
import type { ParsedEntity, ParsedField, ParsedManifest } from './manifest-shape.js';
import { parseFieldType } from './resolve-schema.js';
import { declaredIndexName, uniqueIndexName } from './schema-indexes.js';
import { didYouMean } from './suggest-name.js';

/** Entity and field names: what can be a SQL identifier and a JS property without quoting. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Prefix of Mast's own tables; entity tables must not collide with them. */
const RESERVED_ENTITY_PREFIX = '_mast';

/** The list of accepted field types, as written in diagnostics. */
export const EXPECTED_TYPES = 'string, int, float, bool, datetime, richtext, json or id(Entity)';

/** The field types, for did-you-mean hints. */
const TYPE_NAMES = ['string', 'int', 'float', 'bool', 'datetime', 'richtext', 'json'];
/** Type names from other languages and databases a newcomer writes, and what Mast calls them. */
const TYPE_ALIASES: Record<string, string> = {
  boolean: 'bool',
  integer: 'int',
  number: 'float',
  double: 'float',
  date: 'datetime',
  timestamp: 'datetime',
  text: 'string',
  varchar: 'string',
  object: 'json',
  id: 'id(Entity)',
};

/** ` (did you mean bool?)` for a misspelled or foreign field type, else the empty string. */
function typeSuggestion(type: string, entityNames: ReadonlySet<string>): string {
  const alias = TYPE_ALIASES[type.toLowerCase()];
  if (alias !== undefined) return ` (did you mean ${alias}?)`;
  if (entityNames.has(type)) return ` (did you mean id(${type})?)`;
  const target = /^\s*[A-Za-z]+\s*\(\s*([^)]*?)\s*\)?\s*$/.exec(type)?.[1];
  if (target !== undefined && target !== '' && !type.startsWith('id(')) return ` (did you mean id(${target})?)`;
  return didYouMean(type, TYPE_NAMES);
}

/** Which crdt annotations each field kind accepts (lww fits every kind). */
const CRDT_KINDS_BY_FIELD: Record<FieldKind, readonly CrdtKind[]> = {
  string: ['lww', 'text'],
  richtext: ['lww', 'text'],
  int: ['lww', 'counter'],
  float: ['lww', 'counter'],
  json: ['lww', 'list', 'movable-list', 'tree'],
  bool: ['lww'],
  datetime: ['lww'],
  id: ['lww'],
};

/** Where an entity sits: `entities[1] Todo`, and how messages call it: `Todo` (or `entities[1]` when unnamed). */
export function entityPath(index: number, name: string): { path: string; label: string } {
  const path = name === '' ? `entities[${index}]` : `entities[${index}] ${name}`;
  return { path, label: name === '' ? `entities[${index}]` : name };
}

function checkName(kind: 'entity' | 'field', name: string, label: string, path: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!IDENTIFIER.test(name)) {
    out.push(
      diagnostic(
        'NAME_INVALID',
        path,
        `${label}: ${kind} name "${name}" is not an identifier (letters, digits and _, not starting with a digit)`,
        kind === 'entity' ? 'entity names become table names and URL segments' : 'field names become column names and row keys',
      ),
    );
  }
  if (kind === 'entity' && name.toLowerCase().startsWith(RESERVED_ENTITY_PREFIX)) {
    out.push(diagnostic('NAME_INVALID', path, `${label}: entity names starting with "${RESERVED_ENTITY_PREFIX}" are reserved for Mast's own tables`));
  }
  return out;
}

/**
 * Reports duplicates of `names` (exactly equal, or equal ignoring case since SQLite table and
 * column names are case-insensitive) at every occurrence after the first.
 */
export function findDuplicates(names: readonly string[]): { index: number; first: number; caseOnly: boolean }[] {
  const seen = new Map<string, number>();
  const out: { index: number; first: number; caseOnly: boolean }[] = [];
  names.forEach((name, index) => {
    if (name === '') return;
    const key = name.toLowerCase();
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else out.push({ index, first, caseOnly: names[first] !== name });
  });
  return out;
}

/** Checks a field type (and its id target); used for entity fields and query/action inputs. */
export function checkFieldType(
  field: ParsedField,
  label: string,
  path: string,
  entityNames: ReadonlySet<string>,
  unknownCode: 'FIELD_TYPE_UNKNOWN' | 'INPUT_FIELD_TYPE_UNKNOWN',
): Diagnostic[] {
  const parsed = parseFieldType(field.type);
  if (!parsed) {
    return [diagnostic(unknownCode, path, `${label}: unknown type "${field.type}"${typeSuggestion(field.type, entityNames)} (expected ${EXPECTED_TYPES})`)];
  }
  if (parsed.kind === 'id' && parsed.target !== undefined && !entityNames.has(parsed.target)) {
    return [
      diagnostic(
        'FIELD_ID_TARGET_NOT_FOUND',
        path,
        `${label}: type id(${parsed.target}) points at "${parsed.target}", which is not a declared entity${didYouMean(parsed.target, entityNames)}`,
        `declared entities: ${[...entityNames].join(', ') || '(none)'}`,
      ),
    ];
  }
  return [];
}

function checkFields(entity: ParsedEntity, at: { path: string; label: string }, entityNames: ReadonlySet<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const crdtEntity = entity.crdt ?? true;
  entity.fields.forEach((field, j) => {
    const path = field.name === '' ? `${at.path}.fields[${j}]` : `${at.path}.fields[${j}] ${field.name}`;
    const label = field.name === '' ? `${at.label}.fields[${j}]` : `${at.label}.${field.name}`;
    if (field.name === '') {
      out.push(diagnostic('FIELD_NAME_EMPTY', path, `${label}: field of entity ${at.label} has an empty name`));
    } else {
      out.push(...checkName('field', field.name, label, path));
      if (field.name.toLowerCase() === 'id') {
        out.push(
          diagnostic(
            'FIELD_NAME_RESERVED',
            path,
            `${label}: a field named "${field.name}" collides with the implicit primary key id`,
            'every row already has a string id; remove this field or rename it',
          ),
        );
      }
    }
    out.push(...checkFieldType(field, label, path, entityNames, 'FIELD_TYPE_UNKNOWN'));
    const parsed = parseFieldType(field.type);
    const crdt = field.crdt ?? undefined;
    if (parsed && crdt !== undefined) {
      const allowed = CRDT_KINDS_BY_FIELD[parsed.kind];
      if (!allowed.includes(crdt)) {
        out.push(
          diagnostic(
            'CRDT_KIND_INVALID',
            path,
            `${label}: crdt "${crdt}" does not apply to a ${field.type} field (allowed: ${allowed.join(', ')})`,
            'text fits string/richtext, counter fits int/float, list/movable-list/tree fit json',
          ),
        );
      } else if (!crdtEntity) {
        out.push(diagnostic('CRDT_ANNOTATION_IGNORED', path, `${label}: crdt "${crdt}" has no effect because entity ${at.label} has crdt: false`, undefined, 'warning'));
      }
    }
  });
  out.push(...checkRenames(entity, at));
  for (const dup of findDuplicates(entity.fields.map((f) => f.name))) {
    const name = entity.fields[dup.index]!.name;
    const first = entity.fields[dup.first]!.name;
    out.push(
      diagnostic(
        'FIELD_DUPLICATE',
        `${at.path}.fields[${dup.index}] ${name}`,
        dup.caseOnly
          ? `${at.label}.${name}: field differs from ${at.label}.${first} (fields[${dup.first}]) only in case; column names ignore case`
          : `${at.label}.${name}: field is declared more than once (first at fields[${dup.first}])`,
      ),
    );
  }
  return out;
}

/** `renamedFrom`: an identifier, not a current field's name, and not claimed by two fields. */
function checkRenames(entity: ParsedEntity, at: { path: string; label: string }): Diagnostic[] {
  const out: Diagnostic[] = [];
  const current = new Set(entity.fields.map((f) => f.name.toLowerCase()));
  const claimed = new Map<string, string>();
  entity.fields.forEach((field, j) => {
    const from = field.renamedFrom ?? undefined;
    if (from === undefined) return;
    const path = `${at.path}.fields[${j}] ${field.name}.renamedFrom`;
    const label = `${at.label}.${field.name}`;
    const problem = !IDENTIFIER.test(from)
      ? `"${from}" is not an identifier`
      : current.has(from.toLowerCase())
        ? `"${from}" is the name of a field ${at.label} still declares (a rename frees the old name)`
        : claimed.has(from.toLowerCase())
          ? `${at.label}.${claimed.get(from.toLowerCase())} is renamed from "${from}" already`
          : undefined;
    claimed.set(from.toLowerCase(), field.name);
    if (problem !== undefined) {
      out.push(
        diagnostic('FIELD_RENAME_INVALID', path, `${label}: renamedFrom ${problem}`, "renamedFrom names the field's previous name; remove it once every database has migrated"),
      );
    }
  });
  return out;
}

function checkIndexes(entity: ParsedEntity, at: { path: string; label: string }, fieldNames: ReadonlySet<string>): Diagnostic[] {
  const out: Diagnostic[] = [];
  entity.indexes.forEach((index, k) => {
    const path = index.name === '' ? `${at.path}.indexes[${k}]` : `${at.path}.indexes[${k}] ${index.name}`;
    const label = index.name === '' ? `${at.label} indexes[${k}]` : `${at.label} index ${index.name}`;
    if (index.name === '') out.push(diagnostic('INDEX_NAME_EMPTY', path, `${label}: index of entity ${at.label} has an empty name`));
    if (index.fields.length === 0) out.push(diagnostic('INDEX_FIELDS_EMPTY', path, `${label}: index lists no fields`));
    for (const name of index.fields) {
      if (fieldNames.has(name)) continue;
      out.push(
        diagnostic(
          'INDEX_FIELD_NOT_FOUND',
          path,
          `${label}: field "${name}" is not a declared field of ${at.label}${didYouMean(name, fieldNames)}`,
          name === 'id' ? 'id is the primary key and is indexed already' : `fields of ${at.label}: ${[...fieldNames].join(', ') || '(none)'}`,
        ),
      );
    }
  });
  for (const dup of findDuplicates(entity.indexes.map((i) => i.name))) {
    const name = entity.indexes[dup.index]!.name;
    out.push(
      diagnostic(
        'INDEX_NAME_DUPLICATE',
        `${at.path}.indexes[${dup.index}] ${name}`,
        `${at.label} index ${name}: index name is used more than once in ${at.label} (first at indexes[${dup.first}])`,
      ),
    );
  }
  return out;
}

function checkRelationsAndSearch(entity: ParsedEntity, at: { path: string; label: string }, entitiesByName: ReadonlyMap<string, ParsedEntity>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const own = new Set(entity.fields.map((f) => f.name));
  (entity.relations ?? []).forEach((relation, r) => {
    const path = `${at.path}.relations[${r}] ${relation.name}`;
    const label = `${at.label} relation ${relation.name}`;
    const target = entitiesByName.get(relation.target);
    if (!target) {
      out.push(
        diagnostic(
          'RELATION_TARGET_NOT_FOUND',
          path,
          `${label}: target "${relation.target}" is not a declared entity${didYouMean(relation.target, entitiesByName.keys())}`,
          `declared entities: ${[...entitiesByName.keys()].join(', ')}`,
        ),
      );
    }
    // A to-one relation reads its foreign key from this entity; a to-many one matches rows of
    // the target on that field, so the field must exist there.
    if (relation.many === true) {
      if (target && !target.fields.some((f) => f.name === relation.field)) {
        out.push(
          diagnostic(
            'RELATION_FIELD_NOT_FOUND',
            path,
            `${label}: field "${relation.field}" is not a declared field of the target ${target.name}${didYouMean(
              relation.field,
              target.fields.map((f) => f.name),
            )} (a many relation matches target rows on it)`,
          ),
        );
      }
    } else if (!own.has(relation.field)) {
      out.push(
        diagnostic(
          'RELATION_FIELD_NOT_FOUND',
          path,
          `${label}: field "${relation.field}" is not a declared field of ${at.label}${didYouMean(relation.field, own)} (a to-one relation stores the target id in it)`,
        ),
      );
    }
  });
  const search = entity.search ?? undefined;
  if (search) {
    for (const list of ['text', 'facets', 'sortable'] as const) {
      for (const name of search[list] ?? []) {
        if (own.has(name)) continue;
        out.push(
          diagnostic(
            'SEARCH_FIELD_NOT_FOUND',
            `${at.path}.search.${list}`,
            `${at.label} search.${list}: field "${name}" is not a declared field of ${at.label}${didYouMean(name, own)}`,
          ),
        );
      }
    }
  }
  return out;
}

/** Checks index names that become global table-index names (`<Entity>__<name>`) for collisions. */
function checkPhysicalIndexNames(entities: readonly ParsedEntity[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const owners = new Map<string, { owner: string; entity: number; declared: boolean }>();
  const seenEntities = new Set<string>();
  entities.forEach((entity, i) => {
    // Unnamed and duplicate entities are reported already; their indexes would only add noise.
    if (entity.name === '' || seenEntities.has(entity.name.toLowerCase())) return;
    seenEntities.add(entity.name.toLowerCase());
    const at = entityPath(i, entity.name);
    const claims: { name: string; owner: string; path: string; declared: boolean }[] = [];
    entity.indexes.forEach((index, k) => {
      if (index.name === '') return;
      claims.push({
        name: declaredIndexName(entity.name, index.name),
        owner: `${entity.name} index ${index.name}`,
        path: `${at.path}.indexes[${k}] ${index.name}`,
        declared: true,
      });
    });
    entity.fields.forEach((field, j) => {
      if (!field.unique || field.name === '') return;
      claims.push({
        name: uniqueIndexName(entity.name, field.name),
        owner: `unique field ${entity.name}.${field.name}`,
        path: `${at.path}.fields[${j}] ${field.name}`,
        declared: false,
      });
    });
    for (const claim of claims) {
      const key = claim.name.toLowerCase();
      const previous = owners.get(key);
      if (previous === undefined) {
        owners.set(key, { owner: claim.owner, entity: i, declared: claim.declared });
        continue;
      }
      // Two declared indexes of one entity with one name: checkIndexes reported it; so did
      // FIELD_DUPLICATE for two unique fields differing in case.
      if (previous.entity === i && previous.declared === claim.declared) continue;
      out.push(
        diagnostic(
          'INDEX_NAME_DUPLICATE',
          claim.path,
          `${claim.owner}: its table index name "${claim.name}" is already used by ${previous.owner}`,
          'index names share one namespace per database; rename the index',
        ),
      );
    }
  });
  return out;
}

/** All entity-level checks: names, fields, types, crdt annotations, indexes, relations, search. */
export function checkEntities(manifest: ParsedManifest): Diagnostic[] {
  const out: Diagnostic[] = [];
  const entityNames = new Set(manifest.entities.map((e) => e.name).filter((n) => n !== ''));
  const entitiesByName = new Map<string, ParsedEntity>();
  for (const entity of manifest.entities) if (!entitiesByName.has(entity.name)) entitiesByName.set(entity.name, entity);

  manifest.entities.forEach((entity, i) => {
    const at = entityPath(i, entity.name);
    if (entity.name === '') out.push(diagnostic('ENTITY_NAME_EMPTY', at.path, `${at.label}: entity has an empty name`));
    else out.push(...checkName('entity', entity.name, at.label, at.path));
    out.push(...checkFields(entity, at, entityNames));
    out.push(...checkIndexes(entity, at, new Set(entity.fields.map((f) => f.name).filter((n) => n !== ''))));
    out.push(...checkRelationsAndSearch(entity, at, entitiesByName));
  });
  for (const dup of findDuplicates(manifest.entities.map((e) => e.name))) {
    const name = manifest.entities[dup.index]!.name;
    const first = manifest.entities[dup.first]!.name;
    out.push(
      diagnostic(
        'ENTITY_DUPLICATE',
        entityPath(dup.index, name).path,
        dup.caseOnly
          ? `${name}: entity differs from ${first} (entities[${dup.first}]) only in case; table names ignore case`
          : `${name}: entity is declared more than once (first at entities[${dup.first}])`,
      ),
    );
  }
  out.push(...checkPhysicalIndexNames(manifest.entities));
  return out;
}
