/**
 * How two non-null domain values compare, the way the SQL stores compare a column with a bound
 * value: numbers numerically, booleans as 1/0, strings in code-point order (SQLite BINARY,
 * Postgres COLLATE "C"), and anything else — json objects and arrays, or two values of different
 * types — by the code-point order of their `JSON.stringify` text.
 *
 * Known gap: a json field holding two numbers (or two strings) is compared as JSON text by SQL
 * (so `10 < 9`) but as numbers (strings) here, because a value does not say which field kind it
 * came from. Equality agrees for every kind; only ordering on json fields can differ.
 */

/** Compares two strings by Unicode code point, not UTF-16 unit (they differ past U+FFFF). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

/**
 * Maps a UTF-16 unit so that unit order becomes code-point order at the first difference:
 * surrogates (astral code points) move above U+E000..U+FFFF.
 */
function fixup(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function scalar(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value;
}

function jsonText(value: unknown): string {
  return JSON.stringify(value) ?? '';
}

/** Orders two non-null values as the SQL stores would (negative, zero or positive). */
export function compareValues(left: unknown, right: unknown): number {
  const a = scalar(left);
  const b = scalar(right);
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  return compareCodePoints(jsonText(a), jsonText(b));
}

/** True when two non-null values are equal as the SQL stores would find them. */
export function valuesEqual(left: unknown, right: unknown): boolean {
  const a = scalar(left);
  const b = scalar(right);
  const ta = typeof a;
  if (ta === typeof b && (ta === 'number' || ta === 'string' || ta === 'boolean')) return a === b;
  return jsonText(a) === jsonText(b);
}
