import { checkJsonLimits, DEFAULT_JSON_LIMITS, type JsonLimits } from '@mast/protocol';
import type { EntitySchema, FieldSchema } from '@mast/schema';
import { type AppError, entityErrors, errors } from '../errors/index.js';

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** How many characters of a refused string the message repeats. */
const SHOWN_CHARS = 40;

/** The refused value as the message shows it: a scalar as JSON (a long string cut short), else its kind. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    const shown = value.length > SHOWN_CHARS ? `${value.slice(0, SHOWN_CHARS)}…` : value;
    return `the string ${JSON.stringify(shown)}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

function typeError(entity: EntitySchema, field: FieldSchema, expected: string, value: unknown): AppError {
  return entityErrors.fieldType(entity.name, field.name, expected, describeValue(value));
}

/** Normalises an ISO-8601 date or date-time to `YYYY-MM-DDTHH:MM:SS.sssZ`; null if it is not one. */
export function normaliseDatetime(text: string): string | null {
  const m = ISO_DATETIME.exec(text);
  if (!m) return null;
  // A date-time without an offset is read as UTC, not as the server's local time.
  const withZone = text.includes('T') || text.includes(' ') ? (m[1] ? text : `${text}Z`) : text;
  const ms = Date.parse(withZone.replace(' ', 'T'));
  if (Number.isNaN(ms)) return null;
  // Date.parse rolls impossible days over (Feb 30 → Mar 2); the calendar date must exist.
  const [y, mo, d] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return null;
  return new Date(ms).toISOString();
}

/**
 * Checks one non-null value against its field's type and returns it in domain form (datetimes
 * normalised to ISO-8601 UTC). Throws INVALID_FIELD_TYPE naming the entity and field, or
 * JSON_TOO_DEEP for a `json` value past `limits` (checked without recursion, before anything
 * that recurses, such as JSON.stringify or a CRDT document, sees it).
 */
export function coerceValue(entity: EntitySchema, field: FieldSchema, value: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): unknown {
  switch (field.kind) {
    case 'string':
    case 'richtext':
    case 'id':
      if (typeof value !== 'string') throw typeError(entity, field, 'a string', value);
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw typeError(entity, field, 'an integer within ±2^53', value);
      return value;
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw typeError(entity, field, 'a finite number', value);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw typeError(entity, field, 'true or false', value);
      return value;
    case 'datetime': {
      const iso = typeof value === 'string' ? normaliseDatetime(value) : null;
      if (iso === null) throw typeError(entity, field, 'an ISO-8601 date-time string such as "2026-05-01T12:30:00Z" (or a date, "2026-05-01")', value);
      return iso;
    }
    case 'json': {
      const violation = checkJsonLimits(value, limits);
      if (violation !== null) throw errors.jsonTooDeep(`${entity.name}.${field.name}`, violation, [field.name]);
      return value;
    }
  }
}

/** Checks a field value that may be null: null is allowed only on optional fields. */
export function coerceFieldValue(entity: EntitySchema, field: FieldSchema, value: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): unknown {
  if (value === null) {
    if (!field.optional) {
      throw entityErrors.fieldRequired(entity.name, field.name);
    }
    return null;
  }
  return coerceValue(entity, field, value, limits);
}

/** Looks a field up by name, or throws INVALID_COLUMN listing the valid ones. */
export function requireField(entity: EntitySchema, name: string): FieldSchema {
  const field = entity.fieldsByName.get(name);
  if (!field) {
    const valid = ['id', ...entity.fields.map((f) => f.name)].join(', ');
    throw entityErrors.unknownField(entity.name, name, valid);
  }
  return field;
}

function requireObject(entity: EntitySchema, data: unknown): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw entityErrors.dataNotObject(entity.name);
  }
  return data as Record<string, unknown>;
}

/**
 * Validates an insert body: unknown fields, wrong types and missing required fields are
 * errors; optional fields left out become null. Returns the field values (without `id`).
 */
export function coerceInsert(entity: EntitySchema, data: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): Record<string, unknown> {
  const body = requireObject(entity, data);
  for (const key of Object.keys(body)) if (key !== 'id') requireField(entity, key);
  const out: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const field of entity.fields) {
    const value = body[field.name];
    if (value === undefined || (value === null && !field.optional)) {
      if (!field.optional) missing.push(field.name);
      out[field.name] = null;
      continue;
    }
    out[field.name] = coerceFieldValue(entity, field, value, limits);
  }
  if (missing.length > 0) {
    throw entityErrors.missingFields(entity.name, missing);
  }
  return out;
}

/**
 * Validates a patch: unknown fields and wrong types are errors, required fields cannot become
 * null, and `id` may appear only with the row's own id. Returns the fields to change.
 */
export function coercePatch(entity: EntitySchema, id: string, data: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): Record<string, unknown> {
  const body = requireObject(entity, data);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'id') {
      if (value !== id) throw entityErrors.idImmutable(entity.name);
      continue;
    }
    if (value === undefined) continue;
    out[key] = coerceFieldValue(entity, requireField(entity, key), value, limits);
  }
  if (Object.keys(out).length === 0) {
    throw entityErrors.emptyPatch(entity.name);
  }
  return out;
}
