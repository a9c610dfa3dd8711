import type { AppSchema, EntitySchema, FieldKind, FieldSchema } from './app-schema.js';
import type { Manifest, ManifestEntity, ManifestField } from './manifest-types.js';

const ID_TYPE = /^id\((.+)\)$/;

/** Splits a manifest type string into its kind and `id(X)` target; null when unknown. */
export function parseFieldType(type: string): { kind: FieldKind; target?: string } | null {
  const idMatch = ID_TYPE.exec(type);
  if (idMatch) return { kind: 'id', target: idMatch[1]! };
  switch (type) {
    case 'string':
    case 'int':
    case 'float':
    case 'bool':
    case 'datetime':
    case 'richtext':
    case 'json':
      return { kind: type };
    default:
      return null;
  }
}

function resolveField(field: ManifestField): FieldSchema {
  const parsed = parseFieldType(field.type);
  if (!parsed) throw new Error(`unknown field type "${field.type}" on field "${field.name}"`);
  return Object.freeze({
    name: field.name,
    kind: parsed.kind,
    ...(parsed.target !== undefined ? { target: parsed.target } : {}),
    optional: field.optional,
    unique: field.unique,
    ...(field.crdt !== undefined ? { crdt: field.crdt } : {}),
    ...(field.renamedFrom !== undefined ? { renamedFrom: field.renamedFrom } : {}),
  });
}

function resolveEntity(entity: ManifestEntity): EntitySchema {
  const fields = entity.fields.map(resolveField);
  return Object.freeze({
    name: entity.name,
    fields: Object.freeze(fields),
    fieldsByName: new Map(fields.map((f) => [f.name, f])),
    indexes: Object.freeze([...entity.indexes]),
    relations: Object.freeze([...(entity.relations ?? [])]),
    ...(entity.search !== undefined ? { search: entity.search } : {}),
    crdt: entity.crdt ?? true,
  });
}

/**
 * Builds the lookup form of a manifest that is already known to be valid. Validation (with
 * diagnostics naming entity, field and rule) happens before this, in `compileManifest`.
 */
export function resolveSchema(manifest: Manifest): AppSchema {
  const entities = manifest.entities.map(resolveEntity);
  return Object.freeze({
    manifest,
    entities: Object.freeze(entities),
    entitiesByName: new Map(entities.map((e) => [e.name, e])),
  });
}
