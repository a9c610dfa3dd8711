import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caretAt, locationOf, pathKey, scanJson } from './json-positions.js';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('scanJson', () => {
  it('agrees with JSON.parse on what is JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 2 }), (value, indent) => {
        expect(scanJson(JSON.stringify(value, null, indent)).ok).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ',', ':', ' ', '\n', '1', '-', 'e', '.', 't', 'r', 'u', 'n', 'l', '\\', 'x') }), (text) => {
        expect(scanJson(text).ok).toBe(parses(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('records where each value starts, keyed by its path', () => {
    const text = '{\n  "a": [1, {"b": "x"}],\n  "c": null\n}';
    const scan = scanJson(text);
    if (!scan.ok) throw new Error('expected JSON');
    expect(locationOf(text, scan.offsets.get(pathKey(['a', 1, 'b']))!)).toEqual({ line: 2, column: 18 });
    expect(locationOf(text, scan.offsets.get(pathKey(['c']))!)).toEqual({ line: 3, column: 8 });
  });

  it('puts a caret under the column, keeping tabs', () => {
    expect(caretAt('{\n\t"a": x\n}', 8)).toBe('\t"a": x\n\t     ^');
  });
});
