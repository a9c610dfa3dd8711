import { describe, expect, it } from 'vitest';
import { compareCodePoints, compareValues, valuesEqual } from './compare-values.js';
import { evaluateFilter } from './evaluate-filter.js';
import type { FilterNode } from './filter-ast.js';

const like = (pattern: string, caseInsensitive = false): FilterNode => ({ kind: 'like', field: 's', pattern, caseInsensitive });
const matches = (node: FilterNode, s: unknown): boolean => evaluateFilter(node, { s });

// The SQL agreement itself is proven by the store conformance suite (filter.case.ts and
// random-filter.case.ts); these pin the pure pieces.
describe('evaluateFilter', () => {
  it('orders strings by code point, not UTF-16 unit', () => {
    expect('\uffee' < '😀').toBe(false); // what plain JS would say
    expect(compareCodePoints('\uffee', '😀')).toBeLessThan(0);
    expect(compareCodePoints('😀', '\ue000')).toBeGreaterThan(0);
    expect(compareCodePoints('ab', 'abc')).toBeLessThan(0);
    expect(evaluateFilter({ kind: 'compare', field: 's', op: 'lt', value: '😀' }, { s: '\uffee' })).toBe(true);
  });

  it('compares numbers, booleans and json like the stores do', () => {
    expect(compareValues(false, true)).toBeLessThan(0);
    expect(compareValues(2, 10)).toBeLessThan(0);
    expect(valuesEqual({ a: 1, b: 2 }, { a: 1, b: 2 })).toBe(true);
    expect(valuesEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false); // key order is part of the JSON text
    expect(valuesEqual('1', 1)).toBe(false);
    expect(valuesEqual(1, true)).toBe(false);
  });

  it('treats null and missing cells alike, never unknown', () => {
    const ne: FilterNode = { kind: 'compare', field: 's', op: 'ne', value: 'x' };
    expect(evaluateFilter(ne, {})).toBe(true);
    expect(evaluateFilter({ kind: 'compare', field: 's', op: 'gt', value: 'x' }, { s: null })).toBe(false);
    expect(evaluateFilter({ kind: 'in', field: 's', values: [null], negate: false }, { s: null })).toBe(false);
    expect(evaluateFilter({ kind: 'in', field: 's', values: [], negate: true }, { s: null })).toBe(true);
    expect(evaluateFilter({ kind: 'not', item: like('%') }, {})).toBe(true);
  });

  it('matches like patterns by code point, across newlines, with escapes', () => {
    expect(matches(like('a_c'), 'a😀c')).toBe(true);
    expect(matches(like('a__c'), 'a😀c')).toBe(false);
    expect(matches(like('a%c'), 'a\nb\nc')).toBe(true);
    expect(matches(like('100\\%'), '100%')).toBe(true);
    expect(matches(like('100\\%'), '1000')).toBe(false);
    expect(matches(like('a\\'), 'a\\')).toBe(true);
    expect(matches(like('%a%a%a%a%a%a%a%b'), 'a'.repeat(2000))).toBe(false);
  });

  it('folds both sides for ilike and keeps like case-sensitive', () => {
    expect(matches(like('É%'), 'école')).toBe(false);
    expect(matches(like('É%', true), 'école')).toBe(true);
    expect(matches(like('straße', true), 'STRAßE')).toBe(true);
    // İ folds to two code points (i + combining dot), on both sides.
    expect(matches(like('_', true), 'İ')).toBe(false);
    expect(matches(like('__', true), 'İ')).toBe(true);
  });
});
