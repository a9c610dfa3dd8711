import { describe, expect, it } from 'vitest';
import { applyResultDiff, resultDiff, ResultDiffMismatch, type ResultDiff } from './result-diff.js';

const a = { id: 'a', n: 1 };
const b = { id: 'b', n: 2 };
const c = { id: 'c', n: 3 };

describe('applyResultDiff', () => {
  it('follows the documented steps: remove, replace in place, reorder the kept rows, insert by index', () => {
    const previous = [a, b, c];
    const b2 = { id: 'b', n: 20 };
    const x = { id: 'x', n: 9 };
    const diff: ResultDiff = { removed: ['a'], changed: [b2], order: ['c', 'b'], added: [{ index: 0, row: x }] };
    expect(applyResultDiff(previous, diff)).toEqual([x, c, b2]);
    expect(previous).toEqual([a, b, c]);
  });

  it('a value diff replaces whatever was held', () => {
    expect(applyResultDiff([a], { value: 7 })).toBe(7);
    expect(applyResultDiff(undefined, { value: null })).toBeNull();
  });

  const mismatches: Array<[string, unknown, ResultDiff]> = [
    ['a rows diff on a value that is not an array', { a }, { added: [], changed: [], removed: [] }],
    ['a rows diff on rows without ids', [{ n: 1 }], { added: [], changed: [], removed: [] }],
    ['a removed id not held', [a], { added: [], changed: [], removed: ['z'] }],
    ['a changed row not held', [a], { added: [], changed: [{ id: 'z' }], removed: [] }],
    ['a number id where a string id is held', [a, { id: '1' }], { added: [], changed: [], removed: [1] }],
    ['an order that misses a kept row', [a, b], { added: [], changed: [], removed: [], order: ['a'] }],
    ['an order with an unknown id', [a, b], { added: [], changed: [], removed: [], order: ['a', 'z'] }],
    ['an order that names a row twice', [a, b], { added: [], changed: [], removed: [], order: ['a', 'a'] }],
    ['an added row already held', [a], { added: [{ index: 1, row: a }], changed: [], removed: [] }],
    ['an added index past the end', [a], { added: [{ index: 2, row: b }], changed: [], removed: [] }],
  ];
  for (const [what, previous, diff] of mismatches) {
    it(`refuses ${what}`, () => {
      expect(() => applyResultDiff(previous, diff)).toThrow(ResultDiffMismatch);
    });
  }
});

describe('the resultDiff schema', () => {
  it('accepts either form and nothing in between', () => {
    expect(resultDiff.safeParse({ value: [1] }).success).toBe(true);
    expect(resultDiff.safeParse({ added: [{ index: 0, row: { id: 1 } }], changed: [{ id: 'x', k: 1 }], removed: ['y', 2], order: ['x'] }).success).toBe(true);
    for (const bad of [
      {},
      { value: 1, added: [] },
      { added: [], changed: [] },
      { added: [{ index: -1, row: { id: 'a' } }], changed: [], removed: [] },
      { added: [{ index: 0, row: { title: 'no id' } }], changed: [], removed: [] },
      { added: [], changed: [], removed: [true] },
    ]) {
      expect(resultDiff.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
