import { describe, expect, it } from 'vitest';
import { resolveSchema } from '@mast/schema';
import { AppError } from '../errors/index.js';
import { parseFilter, type FilterLimits } from './filter-parser.js';

const schema = resolveSchema({
  manifest_version: 1,
  name: 't',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Todo',
      indexes: [],
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'done', type: 'bool', optional: false, unique: false },
        { name: 'n', type: 'int', optional: true, unique: false },
        { name: 'at', type: 'datetime', optional: true, unique: false },
        { name: 'meta', type: 'json', optional: true, unique: false },
      ],
    },
  ],
});
const todo = schema.entitiesByName.get('Todo')!;
const limits = { maxLimit: 100, defaultLimit: 10 };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('parseFilter', () => {
  it('reads equality, operators and options into a query', () => {
    expect(parseFilter(todo, { done: true, n: { $gte: 1, $lt: 5 }, $order: { n: 'DESC' }, $limit: 3, $offset: 2 }, limits)).toEqual({
      where: {
        kind: 'and',
        items: [
          { kind: 'compare', field: 'done', op: 'eq', value: true },
          {
            kind: 'and',
            items: [
              { kind: 'compare', field: 'n', op: 'gte', value: 1 },
              { kind: 'compare', field: 'n', op: 'lt', value: 5 },
            ],
          },
        ],
      },
      order: [{ field: 'n', direction: 'desc' }],
      limit: 3,
      offset: 2,
    });
  });

  it('applies the default limit and accepts an empty filter', () => {
    expect(parseFilter(todo, {}, limits)).toEqual({ limit: 10 });
    expect(parseFilter(todo, undefined, limits)).toEqual({ limit: 10 });
  });

  it('reads null as IS NULL and $not as not-equal', () => {
    expect(parseFilter(todo, { n: null }, limits).where).toEqual({ kind: 'compare', field: 'n', op: 'eq', value: null });
    expect(parseFilter(todo, { n: { $not: 3 } }, limits).where).toEqual({ kind: 'compare', field: 'n', op: 'ne', value: 3 });
  });

  it('turns a wildcard-free $like into an escaped substring pattern', () => {
    expect(parseFilter(todo, { title: { $like: 'a\\b' } }, limits).where).toEqual({ kind: 'like', field: 'title', pattern: '%a\\\\b%', caseInsensitive: false });
    expect(parseFilter(todo, { title: { $ilike: 'a%' } }, limits).where).toEqual({ kind: 'like', field: 'title', pattern: 'a%', caseInsensitive: true });
  });

  it('nests $and, $or and $not', () => {
    expect(parseFilter(todo, { $or: [{ done: true }, { $not: { n: { $in: [1, 2] } } }] }, limits).where).toEqual({
      kind: 'or',
      items: [
        { kind: 'compare', field: 'done', op: 'eq', value: true },
        { kind: 'not', item: { kind: 'in', field: 'n', values: [1, 2], negate: false } },
      ],
    });
  });

  it('normalises datetime operands and compares json by value', () => {
    expect(parseFilter(todo, { at: { $gt: '2026-01-01' } }, limits).where).toMatchObject({ value: '2026-01-01T00:00:00.000Z' });
    expect(parseFilter(todo, { meta: { a: 1 } }, limits).where).toEqual({ kind: 'compare', field: 'meta', op: 'eq', value: { a: 1 } });
  });

  it.each([
    ['unknown field', { nope: 1 }, 'INVALID_COLUMN'],
    ['unknown operator', { n: { $regex: 'x' } }, 'INVALID_QUERY'],
    ['unknown top-level key', { $where: 'x' }, 'INVALID_QUERY'],
    ['wrong operand type', { n: 'five' }, 'INVALID_FIELD_TYPE'],
    ['bool as a number', { done: 1 }, 'INVALID_FIELD_TYPE'],
    ['$in with a non-array', { n: { $in: 3 } }, 'INVALID_QUERY'],
    ['$in with null', { n: { $in: [null] } }, 'INVALID_QUERY'],
    ['$gt null', { n: { $gt: null } }, 'INVALID_QUERY'],
    ['$like on a number field', { n: { $like: '1' } }, 'INVALID_QUERY'],
    ['$exists with a string', { n: { $exists: 'yes' } }, 'INVALID_QUERY'],
    ['object on a scalar field', { title: { a: 1 } }, 'INVALID_QUERY'],
    ['$or with a non-array', { $or: { done: true } }, 'INVALID_QUERY'],
    ['order direction', { $order: { n: 'up' } }, 'INVALID_QUERY'],
    ['order on an unknown field', { $order: { nope: 'asc' } }, 'INVALID_COLUMN'],
    ['negative limit', { $limit: -1 }, 'INVALID_QUERY'],
    ['limit over the maximum', { $limit: 101 }, 'LIMIT_TOO_LARGE'],
    ['fractional offset', { $offset: 1.5 }, 'INVALID_QUERY'],
    ['$search', { $search: 'x' }, 'INVALID_QUERY'],
    ['ordering operator on json', { meta: { $gt: 1 } }, 'INVALID_QUERY'],
    ['order by a json field', { $order: { meta: 'asc' } }, 'INVALID_QUERY'],
    ['not an object', 'done', 'INVALID_QUERY'],
  ])('rejects %s', (_name, filter, expected) => {
    expect(code(() => parseFilter(todo, filter, limits))).toBe(expected);
  });

  it('rejects filters nested too deep', () => {
    let filter: Record<string, unknown> = { done: true };
    for (let i = 0; i < 20; i++) filter = { $not: filter };
    expect(code(() => parseFilter(todo, filter, limits))).toBe('INVALID_QUERY');
  });
});

describe('filter size', () => {
  const bounded = { maxLimit: 100, defaultLimit: 10, maxTerms: 4 };
  const codeOf = (body: unknown, limits: FilterLimits = bounded): string => {
    try {
      parseFilter(todo, body, limits);
      return 'no error';
    } catch (err) {
      if (err instanceof AppError) return err.code;
      throw err;
    }
  };

  it('counts conditions and $and/$or/$not operators against maxTerms', () => {
    expect(codeOf({ $or: [{ n: 1 }, { n: 2 }, { n: 3 }] })).toBe('no error'); // 4 terms
    expect(codeOf({ $or: [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }] })).toBe('INVALID_QUERY');
    expect(codeOf({ $not: { $and: [{ n: { $gt: 1, $lt: 3 } }] } })).toBe('no error');
    expect(codeOf({ $not: { $and: [{ n: { $gt: 1, $lt: 3 } }, { done: true }] } })).toBe('INVALID_QUERY');
  });

  it('refuses a filter nested past the JSON bounds with JSON_TOO_DEEP', () => {
    let meta: unknown = 1;
    for (let i = 0; i < 5_000; i++) meta = [meta];
    expect(codeOf({ meta })).toBe('JSON_TOO_DEEP');
    expect(codeOf({ meta: [[1]] }, { ...bounded, jsonLimits: { maxDepth: 2, maxNodes: 100 } })).toBe('JSON_TOO_DEEP');
  });
});
