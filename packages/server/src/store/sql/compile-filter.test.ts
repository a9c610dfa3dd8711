import { describe, expect, it } from 'vitest';
import { resolveSchema } from '@mast/schema';
import { compileFilter, compileFind } from './compile-filter.js';
import { parseLike, renderLike } from '@mast/schema';
import { renderGlob } from './like-pattern.js';
import { SqlParams, type SqlDialect } from './sql-dialect.js';

/** A dialect with numbered placeholders, to show the compiler does not assume `?`. */
const numbered: SqlDialect = {
  name: 'numbered',
  placeholder: (i) => `$${i}`,
  quoteIdent: (name) => `"${name.replaceAll('"', '""')}"`,
  unlimited: 'ALL',
  nullsSortLow: false,
  columnType: () => 'TEXT',
  comparable: (column) => column,
  like: (column, pattern, ci, bind) => `${column} ${ci ? 'ILIKE' : 'LIKE'} ${bind(renderLike(pattern))}`,
  cells: {
    encodeBool: (v) => v,
    decodeBool: (c) => c === true,
    encodeJson: (text) => text,
    decodeJson: (c) => c,
    encodeDatetime: (iso) => iso,
    decodeDatetime: (c) => String(c),
  },
};

const schema = resolveSchema({
  manifest_version: 1,
  name: 't',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Todo',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'done', type: 'bool', optional: true, unique: false },
        { name: 'meta', type: 'json', optional: true, unique: false },
      ],
      indexes: [],
    },
  ],
});
const todo = schema.entitiesByName.get('Todo')!;

describe('compileFilter / compileFind', () => {
  it('binds every value and numbers placeholders in text order', () => {
    const params = new SqlParams(numbered);
    const find = compileFind(
      {
        where: {
          kind: 'and',
          items: [
            { kind: 'compare', field: 'title', op: 'eq', value: "x' OR '1'='1" },
            { kind: 'in', field: 'meta', values: [{ a: 1 }], negate: false },
            { kind: 'like', field: 'title', pattern: 'a%', caseInsensitive: true },
          ],
        },
        order: [{ field: 'done', direction: 'desc' }],
        limit: 5,
        offset: 10,
      },
      todo,
      numbered,
      params,
    );
    expect(find.sql).toBe(' WHERE ("title" = $1 AND "meta" IN ($2) AND "title" ILIKE $3) ORDER BY "done" DESC NULLS LAST, "id" DESC LIMIT $4 OFFSET $5');
    expect(params.values).toEqual(["x' OR '1'='1", '{"a":1}', 'a%', 5, 10]);
  });

  it('writes ne and negated comparisons with an IS NULL arm, and keeps id unguarded', () => {
    const sql = (node: Parameters<typeof compileFilter>[0]) => compileFilter(node, todo, numbered, new SqlParams(numbered));
    expect(sql({ kind: 'compare', field: 'title', op: 'ne', value: 'a' })).toBe('("title" IS NULL OR "title" <> $1)');
    expect(sql({ kind: 'not', item: { kind: 'compare', field: 'done', op: 'gt', value: false } })).toBe('("done" IS NULL OR "done" <= $1)');
    expect(sql({ kind: 'not', item: { kind: 'compare', field: 'id', op: 'eq', value: 'a' } })).toBe('"id" <> $1');
    expect(sql({ kind: 'in', field: 'title', values: [], negate: true })).toBe('(1=1)');
  });

  it('appends id only when the order lacks it, and uses the dialect for a bare OFFSET', () => {
    const params = new SqlParams(numbered);
    expect(compileFind({ order: [{ field: 'id', direction: 'desc' }], offset: 3 }, todo, numbered, params).sql).toBe(' ORDER BY "id" DESC LIMIT ALL OFFSET $1');
  });
});

describe('like patterns', () => {
  it('parses wildcards and escapes, a trailing backslash being literal', () => {
    expect(parseLike('a\\%b_%\\')).toEqual([{ kind: 'literal', text: 'a%b' }, { kind: 'one' }, { kind: 'many' }, { kind: 'literal', text: '\\' }]);
  });

  it('renders LIKE with escapes and GLOB with bracketed literals', () => {
    const tokens = parseLike('50\\%_*?[x]\\\\%');
    expect(renderLike(tokens)).toBe('50\\%_*?[x]\\\\%');
    expect(renderGlob(tokens)).toBe('50%?[*][?][[]x]\\*');
  });
});
