import { describe, expect, it } from 'vitest';
// The seeded PRNG (mulberry32) the policy fuzzer uses, so a failing seed replays exactly.
import { prng } from '@mast/policy/testing';
import { evaluateFilter, type FilterNode, type OrderTerm } from '@mast/schema';
import { ANONYMOUS } from '../access/auth-context.js';
import type { Row } from '../store/index.js';
import { LiveQuery } from './live-query.js';
import { rowComparator } from './row-order.js';

const where: FilterNode = { kind: 'compare', field: 'group', op: 'eq', value: 'a' };
const orders: Array<readonly OrderTerm[] | undefined> = [
  undefined,
  [{ field: 'score', direction: 'asc' }],
  [
    { field: 'score', direction: 'desc' },
    { field: 'name', direction: 'asc' },
  ],
];

describe('LiveQuery window', () => {
  it.each(orders.flatMap((order) => [1, 3, 8].map((limit) => [order, limit] as const)))('matches a full recompute after every change (order %j, limit %i)', (order, limit) => {
    for (let seed = 1; seed <= 20; seed++) {
      const next = prng(seed * 1000 + limit);
      const table = new Map<string, Row>();
      const hidden = (row: Row): boolean => row.name === 'hidden';
      const visible = (row: Row): boolean => !hidden(row);
      const compare = rowComparator(order);
      const truth = (): Row[] => [...table.values()].filter((r) => evaluateFilter(where, r) && visible(r)).sort(compare);
      const query = new LiveQuery('q', 'k', { entity: 'T', where, fetchWhere: where, order, limit }, ANONYMOUS, () => {});
      query.reset(truth().slice(0, limit + 1));
      query.takeDiff();
      const client = new Map(query.rows.map((r) => [r.id, r]));
      for (let step = 0; step < 60; step++) {
        const id = `r${Math.floor(next() * 12)}`;
        const roll = next();
        let row: Row | null;
        if (roll < 0.2) {
          row = null;
          table.delete(id);
        } else {
          const score = next() < 0.15 ? null : Math.floor(next() * 6);
          row = { id, group: next() < 0.7 ? 'a' : 'b', score, name: next() < 0.1 ? 'hidden' : `n${Math.floor(next() * 3)}` };
          table.set(id, row);
        }
        if (query.apply(id, row, visible)) query.reset(truth().slice(0, limit + 1));
        const expected = truth();
        const context = `seed ${seed} step ${step}`;
        expect(
          query.rows.map((r) => r.id),
          context,
        ).toEqual(expected.slice(0, limit).map((r) => r.id));
        // `complete` may stay false for a full window with nothing outside it (it is only learnt
        // by a refetch), but it must never be true while rows are left out.
        if (query.complete) expect(expected.length, context).toBeLessThanOrEqual(limit);
        else expect(query.rows.length, context).toBe(limit);
        const diff = query.takeDiff();
        for (const removed of diff?.removed ?? []) client.delete(removed);
        for (const r of [...(diff?.added ?? []), ...(diff?.changed ?? [])]) client.set(r.id, r);
        expect([...client.values()].sort(compare), context).toEqual(query.rows);
      }
    }
  });
});
