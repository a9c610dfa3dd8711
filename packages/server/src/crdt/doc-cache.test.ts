import { describe, expect, it } from 'vitest';
import { DocCache } from './doc-cache.js';

describe('DocCache', () => {
  it('evicts the least recently used entry past the count budget', () => {
    const cache = new DocCache<string>(2, 1_000);
    cache.set('a', 'A', 1);
    cache.set('b', 'B', 1);
    expect(cache.get('a')).toBe('A'); // a is now the most recent
    cache.set('c', 'C', 1);
    expect(cache.has('b')).toBe(false);
    expect(cache.has('a')).toBe(true);
    expect(cache.stats()).toEqual({ entries: 2, bytes: 2, evictions: 1 });
  });

  it('evicts past the byte budget and never keeps an entry larger than it', () => {
    const cache = new DocCache<string>(100, 10);
    cache.set('a', 'A', 4);
    cache.set('b', 'B', 4);
    expect(cache.set('c', 'C', 4)).toBe(true);
    expect(cache.has('a')).toBe(false);
    expect(cache.stats().bytes).toBe(8);
    // Refused: the caller keeps (and must free) what the cache did not take.
    expect(cache.set('huge', 'H', 11)).toBe(false);
    expect(cache.has('huge')).toBe(false);
    expect(cache.stats().bytes).toBe(8);
    expect(new DocCache<string>(0, 10).set('a', 'A', 1)).toBe(false);
  });

  it('replacing an entry updates its size; delete frees it', () => {
    const cache = new DocCache<string>(10, 10);
    cache.set('a', 'A', 4);
    cache.set('a', 'A2', 6);
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: 6 });
    expect(cache.delete('a')).toBe(true);
    expect(cache.delete('a')).toBe(false);
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});

describe('DocCache drops', () => {
  it('reports evicted and replaced values, not deleted or refused ones', () => {
    const dropped: string[] = [];
    const cache = new DocCache<string>(2, 10, (value) => dropped.push(value));
    cache.set('a', 'A', 1);
    cache.set('b', 'B', 1);
    cache.set('c', 'C', 1); // evicts A
    cache.set('b', 'B2', 1); // replaces B
    cache.set('b', 'B2', 1); // same value: not dropped
    expect(cache.delete('c')).toBe(true);
    cache.set('huge', 'H', 11);
    expect(dropped).toEqual(['A', 'B']);
  });
});
