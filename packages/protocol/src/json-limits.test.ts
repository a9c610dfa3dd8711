import { describe, expect, it } from 'vitest';
import { checkJsonLimits } from './json-limits.js';

function nest(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

describe('checkJsonLimits', () => {
  it('accepts scalars and values within the bounds', () => {
    expect(checkJsonLimits(null)).toBeNull();
    expect(checkJsonLimits('text')).toBeNull();
    expect(checkJsonLimits({ a: [1, 2, { b: 'c' }] })).toBeNull();
    expect(checkJsonLimits(nest(64))).toBeNull();
  });

  it('refuses one level past the depth bound, and far past it without overflowing the stack', () => {
    expect(checkJsonLimits(nest(65))).toEqual({ kind: 'depth', limit: 64 });
    expect(checkJsonLimits(nest(200_000))).toEqual({ kind: 'depth', limit: 64 });
  });

  it('refuses wide values past the size bound', () => {
    expect(checkJsonLimits(new Array(100_000).fill(0))).toEqual({ kind: 'size', limit: 100_000 });
    expect(checkJsonLimits(new Array(99_999).fill(0))).toBeNull();
    expect(checkJsonLimits({ a: 1, b: 2 }, { maxDepth: 8, maxNodes: 4 })).toEqual({ kind: 'size', limit: 4 });
  });
});
