import { describe, expect, it } from 'vitest';
import { resolveSchema } from '@mast/schema';
import { AppError } from '../errors/index.js';
import { coerceInsert, coercePatch, normaliseDatetime } from './value-codec.js';

const schema = resolveSchema({
  manifest_version: 1,
  name: 't',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Row',
      indexes: [],
      fields: [
        { name: 's', type: 'string', optional: false, unique: false },
        { name: 'i', type: 'int', optional: true, unique: false },
        { name: 'f', type: 'float', optional: true, unique: false },
        { name: 'b', type: 'bool', optional: true, unique: false },
        { name: 'd', type: 'datetime', optional: true, unique: false },
        { name: 'j', type: 'json', optional: true, unique: false },
        { name: 'r', type: 'id(Row)', optional: true, unique: false },
      ],
    },
  ],
});
const row = schema.entitiesByName.get('Row')!;

function errorOf(fn: () => unknown): { code: string; fields?: string[] | undefined } {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return { code: err.code, fields: err.fields };
    throw err;
  }
  return { code: 'no error' };
}

describe('normaliseDatetime', () => {
  it.each([
    ['2026-01-02', '2026-01-02T00:00:00.000Z'],
    ['2026-01-02T03:04:05Z', '2026-01-02T03:04:05.000Z'],
    ['2026-01-02T03:04', '2026-01-02T03:04:00.000Z'],
    ['2026-01-02T03:04:05.123456+02:00', '2026-01-02T01:04:05.123Z'],
    ['2026-01-02 03:04:05', '2026-01-02T03:04:05.000Z'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseDatetime(input)).toBe(expected);
  });

  it.each(['tomorrow', '2026-13-01', '2026-02-30T00:00:00Z', '1761811234Z', ''])('rejects %s', (input) => {
    expect(normaliseDatetime(input)).toBeNull();
  });
});

describe('coerceInsert', () => {
  it('fills optional fields with null and keeps typed values', () => {
    expect(coerceInsert(row, { s: 'x', j: [1, { a: null }], b: false })).toEqual({ s: 'x', i: null, f: null, b: false, d: null, j: [1, { a: null }], r: null });
  });

  it.each([
    ['an int with a fraction', { s: 'x', i: 1.5 }, 'INVALID_FIELD_TYPE', ['i']],
    ['an int past 2^53', { s: 'x', i: 2 ** 53 }, 'INVALID_FIELD_TYPE', ['i']],
    ['a string for a float', { s: 'x', f: '1.5' }, 'INVALID_FIELD_TYPE', ['f']],
    ['1 for a bool', { s: 'x', b: 1 }, 'INVALID_FIELD_TYPE', ['b']],
    ['a number for a string', { s: 5 }, 'INVALID_FIELD_TYPE', ['s']],
    ['a number for an id', { s: 'x', r: 5 }, 'INVALID_FIELD_TYPE', ['r']],
    ['a missing required field', {}, 'MISSING_FIELD', ['s']],
    ['an unknown field', { s: 'x', extra: 1 }, 'INVALID_COLUMN', ['extra']],
    ['a prototype key', JSON.parse('{"s":"x","__proto__":{"polluted":true}}'), 'INVALID_COLUMN', ['__proto__']],
  ])('rejects %s', (_name, data, code, fields) => {
    expect(errorOf(() => coerceInsert(row, data))).toEqual({ code, fields });
  });

  it('rejects bodies that are not objects', () => {
    for (const body of [null, [], 'x', 3]) expect(errorOf(() => coerceInsert(row, body)).code).toBe('INVALID_DATA');
  });
});

describe('coercePatch', () => {
  it('keeps only the given fields and allows null on optional ones', () => {
    expect(coercePatch(row, 'a', { i: null, s: 'y', id: 'a' })).toEqual({ i: null, s: 'y' });
  });

  it('rejects a null required field, an id change and an empty patch', () => {
    expect(errorOf(() => coercePatch(row, 'a', { s: null })).code).toBe('MISSING_FIELD');
    expect(errorOf(() => coercePatch(row, 'a', { id: 'b' })).code).toBe('IMMUTABLE_FIELD');
    expect(errorOf(() => coercePatch(row, 'a', {})).code).toBe('INVALID_DATA');
  });
});

describe('json values past the JSON bounds', () => {
  /** `[[…0…]]` nested `depth` deep. */
  const nested = (depth: number): unknown => {
    let value: unknown = 0;
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  };

  it('refuses a json field nested past the depth bound with JSON_TOO_DEEP naming the field, on insert and patch', () => {
    expect(errorOf(() => coerceInsert(row, { s: 'x', j: nested(10_000) }))).toEqual({ code: 'JSON_TOO_DEEP', fields: ['j'] });
    expect(errorOf(() => coercePatch(row, 'a', { j: { a: nested(64) } }))).toEqual({ code: 'JSON_TOO_DEEP', fields: ['j'] });
    expect(coerceInsert(row, { s: 'x', j: nested(63) }).j).toEqual(nested(63));
  });

  it('applies the bounds it is given (the server passes MAST_JSON_MAX_DEPTH and MAST_JSON_MAX_NODES)', () => {
    const limits = { maxDepth: 3, maxNodes: 10 };
    expect(errorOf(() => coerceInsert(row, { s: 'x', j: nested(4) }, limits)).code).toBe('JSON_TOO_DEEP');
    expect(errorOf(() => coerceInsert(row, { s: 'x', j: Array.from({ length: 20 }, () => 1) }, limits)).code).toBe('JSON_TOO_DEEP');
    expect(coerceInsert(row, { s: 'x', j: nested(3) }, limits).j).toEqual(nested(3));
  });
});

describe('type errors show what was sent and what is expected', () => {
  const messageOf = (data: Record<string, unknown>): string => {
    try {
      coerceInsert(row, data);
    } catch (err) {
      return (err as AppError).message;
    }
    throw new Error('expected a refusal');
  };
  it.each([
    [{ s: 'x', d: 'yesterday' }, 'Row.d must be an ISO-8601 date-time string such as "2026-05-01T12:30:00Z" (or a date, "2026-05-01"), got the string "yesterday"'],
    [{ s: 'x', d: 'y'.repeat(100) }, `got the string "${'y'.repeat(40)}…"`],
    [{ s: 'x', i: 1.5 }, 'Row.i must be an integer within ±2^53, got number 1.5'],
    [{ s: 'x', b: 'yes' }, 'Row.b must be true or false, got the string "yes"'],
    [{ s: 5 }, 'Row.s must be a string, got number 5'],
    [{ s: ['a'] }, 'Row.s must be a string, got an array'],
    [{ s: { a: 1 } }, 'Row.s must be a string, got an object'],
  ])('%j', (data, message) => {
    expect(messageOf(data)).toContain(message);
  });
});
