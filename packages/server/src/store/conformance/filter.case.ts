import { beforeEach, describe, expect, it } from 'vitest';
import { evaluateFilter } from '@mast/schema';
import type { FilterNode, FilterValue, FindQuery } from '@mast/schema';
import { expectAppError, idSet, ids, item, migrateBase, type StoreRef } from './fixtures.js';
import { randomFilterCases } from './random-filter.case.js';

const DATA = [
  item('a', { name: 'apple', title: 'Red fruit', count: 3, price: 1.5, done: true, meta: { color: 'red' }, due: '2024-01-01T00:00:00.000Z' }),
  item('b', { name: 'Banana', title: null, count: 10, price: 0.25, done: false, meta: [1, 2], due: '2024-06-01T00:00:00.000Z' }),
  item('c', { name: 'cherry', title: '100% juice' }),
  item('d', { name: 'date_fruit', title: '100 percent', count: -5, price: 2, done: false, meta: 42 }),
  item('e', { name: 'eclair', title: 'a*b?[c]', count: 0, done: true, meta: 'text' }),
  item('f', { name: 'dateXfruit', count: 3 }),
];
const ALL = DATA.map((r) => r.id);

const cmp = (field: string, op: 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte', value: FilterValue): FilterNode => ({ kind: 'compare', field, op, value });
const inList = (field: string, values: FilterValue[], negate = false): FilterNode => ({ kind: 'in', field, values, negate });
const like = (field: string, pattern: string, caseInsensitive = false): FilterNode => ({ kind: 'like', field, pattern, caseInsensitive });
const not = (item: FilterNode): FilterNode => ({ kind: 'not', item });
const and = (...items: FilterNode[]): FilterNode => ({ kind: 'and', items });
const or = (...items: FilterNode[]): FilterNode => ({ kind: 'or', items });

/** Every filter operator, null semantics, nesting, like escaping, ordering and paging. */
export function filterCases(store: StoreRef): void {
  describe('filters', () => {
    beforeEach(async () => {
      await migrateBase(store());
      await store().write(async (tx) => {
        for (const row of DATA) await tx.insert('Item', row);
      });
    });

    const find = (query: FindQuery) => store().read((tx) => tx.find('Item', query));
    const where = async (node: FilterNode): Promise<string[]> => {
      const rows = await find({ where: node });
      // count must agree with find, and the in-memory evaluator with SQL, for every filter
      expect(await store().read((tx) => tx.count('Item', node))).toBe(rows.length);
      const all = await find({});
      expect(idSet(all.filter((row) => evaluateFilter(node, row))), `in memory: ${JSON.stringify(node)}`).toEqual(idSet(rows));
      return idSet(rows);
    };
    const complement = (matched: string[]): string[] => ALL.filter((id) => !matched.includes(id));

    it('compares strings, numbers, bools, json and datetimes', async () => {
      expect(await where(cmp('name', 'eq', 'apple'))).toEqual(['a']);
      expect(await where(cmp('name', 'eq', 'banana'))).toEqual([]);
      expect(await where(cmp('count', 'gt', 0))).toEqual(['a', 'b', 'f']);
      expect(await where(cmp('count', 'gte', 0))).toEqual(['a', 'b', 'e', 'f']);
      expect(await where(cmp('count', 'lt', 3))).toEqual(['d', 'e']);
      expect(await where(cmp('count', 'lte', 3))).toEqual(['a', 'd', 'e', 'f']);
      expect(await where(cmp('price', 'lt', 1))).toEqual(['b']);
      expect(await where(cmp('done', 'eq', true))).toEqual(['a', 'e']);
      expect(await where(cmp('done', 'eq', false))).toEqual(['b', 'd']);
      expect(await where(cmp('meta', 'eq', { color: 'red' }))).toEqual(['a']);
      expect(await where(cmp('meta', 'eq', [1, 2]))).toEqual(['b']);
      expect(await where(cmp('meta', 'eq', 42))).toEqual(['d']);
      expect(await where(cmp('meta', 'eq', 'text'))).toEqual(['e']);
      expect(await where(cmp('due', 'gt', '2024-03-01T00:00:00.000Z'))).toEqual(['b']);
      expect(await where(cmp('id', 'gte', 'e'))).toEqual(['e', 'f']);
    });

    it('treats null as not equal to any value, and eq/ne null as IS [NOT] NULL', async () => {
      expect(await where(cmp('title', 'eq', null))).toEqual(['b', 'f']);
      expect(await where(cmp('title', 'ne', null))).toEqual(['a', 'c', 'd', 'e']);
      expect(await where(cmp('title', 'ne', 'Red fruit'))).toEqual(['b', 'c', 'd', 'e', 'f']);
      expect(await where(cmp('done', 'ne', true))).toEqual(['b', 'c', 'd', 'f']);
      expect(await where(cmp('count', 'gt', null))).toEqual([]);
      expect(await where({ kind: 'exists', field: 'title', exists: true })).toEqual(['a', 'c', 'd', 'e']);
      expect(await where({ kind: 'exists', field: 'title', exists: false })).toEqual(['b', 'f']);
    });

    it('makes not the exact complement, nulls included', async () => {
      const cases: FilterNode[] = [
        cmp('count', 'gt', 0),
        cmp('count', 'lte', 3),
        cmp('title', 'eq', 'Red fruit'),
        cmp('title', 'ne', 'Red fruit'),
        cmp('count', 'gt', null),
        cmp('title', 'eq', null),
        inList('count', [3, 10]),
        inList('count', [3, 10], true),
        inList('count', []),
        like('title', '100%'),
        { kind: 'exists', field: 'price', exists: true },
        or(cmp('done', 'eq', true), cmp('count', 'lt', 0)),
        and(cmp('done', 'eq', false), cmp('price', 'gt', 1)),
      ];
      for (const node of cases) {
        const matched = await where(node);
        expect(await where(not(node))).toEqual(complement(matched));
        expect(await where(not(not(node)))).toEqual(matched);
      }
      expect(await where(not(cmp('count', 'gt', 0)))).toEqual(['c', 'd', 'e']);
    });

    it('in / nin, with empty lists and nulls', async () => {
      expect(await where(inList('name', ['apple', 'cherry', 'zzz']))).toEqual(['a', 'c']);
      expect(await where(inList('count', [3, 10]))).toEqual(['a', 'b', 'f']);
      expect(await where(inList('name', []))).toEqual([]);
      expect(await where(inList('name', [], true))).toEqual(ALL);
      expect(await where(inList('title', ['Red fruit'], true))).toEqual(['b', 'c', 'd', 'e', 'f']);
      // A null in the list never matches a null cell: `in` is about values; use eq null.
      expect(await where(inList('title', [null, 'Red fruit']))).toEqual(['a']);
      expect(await where(inList('meta', [{ color: 'red' }, 42]))).toEqual(['a', 'd']);
    });

    it('like: wildcards, escapes and literal glob characters', async () => {
      expect(await where(like('name', 'a%'))).toEqual(['a']);
      expect(await where(like('name', '%an%'))).toEqual(['b']);
      expect(await where(like('name', 'B_nana'))).toEqual(['b']);
      expect(await where(like('name', 'date_fruit'))).toEqual(['d', 'f']);
      expect(await where(like('name', 'date\\_fruit'))).toEqual(['d']);
      expect(await where(like('title', '100%'))).toEqual(['c', 'd']);
      expect(await where(like('title', '100\\%%'))).toEqual(['c']);
      expect(await where(like('title', 'a*b?[c]'))).toEqual(['e']);
      expect(await where(like('title', 'a*b%'))).toEqual(['e']);
      expect(await where(like('title', '*'))).toEqual([]);
      expect(await where(like('title', '%[c]'))).toEqual(['e']);
      expect(await where(like('title', '_*_?%'))).toEqual(['e']);
      expect(await where(like('title', '%'))).toEqual(['a', 'c', 'd', 'e']);
    });

    it('$like is case-sensitive and $ilike is not', async () => {
      expect(await where(like('name', 'b%'))).toEqual([]);
      expect(await where(like('name', 'B%'))).toEqual(['b']);
      expect(await where(like('name', 'b%', true))).toEqual(['b']);
      expect(await where(like('name', 'BANANA', true))).toEqual(['b']);
      expect(await where(like('title', 'red%', true))).toEqual(['a']);
      expect(await where(like('title', 'red%'))).toEqual([]);
      expect(await where(like('title', '100\\%%', true))).toEqual(['c']);
      expect(await where(like('name', 'DATE\\_FRUIT', true))).toEqual(['d']);
      expect(await where(like('name', 'DATE_FRUIT', true))).toEqual(['d', 'f']);
      expect(await where(like('title', 'A*B?[C]', true))).toEqual(['e']);
    });

    it('nests and / or / not; empty and is true, empty or is false', async () => {
      const nested = or(and(cmp('done', 'eq', true), cmp('count', 'gt', 1)), cmp('name', 'eq', 'cherry'));
      expect(await where(nested)).toEqual(['a', 'c']);
      expect(await where(and(nested, not(cmp('id', 'eq', 'c'))))).toEqual(['a']);
      expect(await where(and())).toEqual(ALL);
      expect(await where(or())).toEqual([]);
      expect(await where(not(and()))).toEqual([]);
      expect(await where(not(or()))).toEqual(ALL);
      expect(await where(and(cmp('count', 'eq', 3)))).toEqual(['a', 'f']);
      expect(await where(or(and(), cmp('id', 'eq', 'a')))).toEqual(ALL);
    });

    it("orders with nulls first ascending, last descending, ties by id in the last term's direction", async () => {
      expect(ids(await find({ order: [{ field: 'count', direction: 'asc' }] }))).toEqual(['c', 'd', 'e', 'a', 'f', 'b']);
      expect(ids(await find({ order: [{ field: 'count', direction: 'desc' }] }))).toEqual(['b', 'f', 'a', 'e', 'd', 'c']);
      expect(ids(await find({ order: [{ field: 'id', direction: 'desc' }] }))).toEqual(['f', 'e', 'd', 'c', 'b', 'a']);
      expect(ids(await find({}))).toEqual(ALL);
      expect(
        ids(
          await find({
            order: [
              { field: 'done', direction: 'desc' },
              { field: 'count', direction: 'asc' },
            ],
          }),
        ),
      ).toEqual(['e', 'a', 'd', 'b', 'c', 'f']);
    });

    it('limits and offsets, with or without the other', async () => {
      const order = [{ field: 'count', direction: 'asc' }] as const;
      expect(ids(await find({ order, limit: 2 }))).toEqual(['c', 'd']);
      expect(ids(await find({ order, limit: 2, offset: 2 }))).toEqual(['e', 'a']);
      expect(ids(await find({ order, offset: 4 }))).toEqual(['f', 'b']);
      expect(ids(await find({ order, limit: 0 }))).toEqual([]);
      expect(ids(await find({ where: cmp('done', 'eq', false), limit: 10, offset: 1 }))).toEqual(['d']);
      await expectAppError(find({ limit: -1 }), 'INVALID_QUERY');
      await expectAppError(find({ offset: 1.5 }), 'INVALID_QUERY');
    });

    it('refuses unknown fields in filters and orders', async () => {
      await expectAppError(find({ where: cmp('colour', 'eq', 'red') }), 'INVALID_COLUMN', ['colour']);
      await expectAppError(find({ where: not(or(like('nope', 'x'))) }), 'INVALID_COLUMN', ['nope']);
      await expectAppError(find({ order: [{ field: 'nope', direction: 'asc' }] }), 'INVALID_COLUMN', ['nope']);
      await expectAppError(find({ where: cmp('"name"; --', 'eq', 1) }), 'INVALID_COLUMN');
    });
  });

  randomFilterCases(store);
}
