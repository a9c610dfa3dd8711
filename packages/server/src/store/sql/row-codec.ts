import type { EntitySchema, FieldKind } from '@mast/schema';
import { type AppError, storeErrors } from '../../errors/index.js';
import type { Row } from '../store.js';
import type { CellCodec } from './sql-dialect.js';

/**
 * Domain values ⇄ database cells, by field kind. Domain values are what the API speaks: strings,
 * safe-integer and finite numbers, booleans, ISO datetime strings and parsed json. `null` (and
 * `undefined`) is SQL NULL for every kind, so a json field cannot hold a top-level JSON null.
 */

function wrongType(entity: string, field: string, expected: string): AppError {
  return storeErrors.wrongStoredType(entity, field, expected);
}

/** Encodes one domain value for a column of `kind`; throws INVALID_FIELD_TYPE on a mismatch. */
export function encodeCell(cells: CellCodec, kind: FieldKind, value: unknown, where: { entity: string; field: string }): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'string':
    case 'richtext':
    case 'id':
      if (typeof value !== 'string') throw wrongType(where.entity, where.field, 'a string');
      return value;
    case 'datetime':
      if (value instanceof Date && !Number.isNaN(value.getTime())) return cells.encodeDatetime(value.toISOString());
      if (typeof value !== 'string') throw wrongType(where.entity, where.field, 'an ISO-8601 datetime string');
      return cells.encodeDatetime(value);
    case 'int':
      if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) {
        return Number(value);
      }
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw wrongType(where.entity, where.field, 'an integer within ±2^53');
      return value;
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrongType(where.entity, where.field, 'a finite number');
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw wrongType(where.entity, where.field, 'a boolean');
      return cells.encodeBool(value);
    case 'json': {
      let text: string | undefined;
      try {
        text = JSON.stringify(value);
      } catch {
        text = undefined;
      }
      if (text === undefined) throw wrongType(where.entity, where.field, 'a JSON value');
      return cells.encodeJson(text);
    }
  }
}

/** Decodes one cell of a column of `kind` into its domain value. */
export function decodeCell(cells: CellCodec, kind: FieldKind, cell: unknown): unknown {
  if (cell === null || cell === undefined) return null;
  switch (kind) {
    case 'bool':
      return cells.decodeBool(cell);
    case 'json':
      return cells.decodeJson(cell);
    case 'datetime':
      return cells.decodeDatetime(cell);
    case 'int':
    case 'float':
      return typeof cell === 'number' ? cell : Number(cell);
    default:
      return typeof cell === 'string' ? cell : String(cell);
  }
}

/** Turns a result row (column name → cell) into a Row with `id` and every declared field. */
export function decodeRow(cells: CellCodec, entity: EntitySchema, raw: Readonly<Record<string, unknown>>): Row {
  const row: Row = { id: String(raw['id']) };
  for (const field of entity.fields) row[field.name] = decodeCell(cells, field.kind, raw[field.name]);
  return row;
}

/**
 * Checks that every key of `values` is a declared field (or `id` when `allowId`) and returns
 * `[field, cell]` pairs in the order given; unknown keys throw INVALID_COLUMN.
 */
export function encodeFields(cells: CellCodec, entity: EntitySchema, values: Readonly<Record<string, unknown>>, allowId: boolean): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [name, value] of Object.entries(values)) {
    if (name === 'id') {
      if (!allowId) continue;
      if (typeof value !== 'string' || value === '') throw storeErrors.emptyId(entity.name);
      out.push(['id', value]);
      continue;
    }
    const field = entity.fieldsByName.get(name);
    if (!field) throw storeErrors.noSuchColumn(entity.name, name);
    out.push([name, encodeCell(cells, field.kind, value, { entity: entity.name, field: name })]);
  }
  return out;
}
