/**
 * The JSON text of a handler's value, by the rules of function results: `toJSON` (dates)
 * applies; a BigInt, a cycle, NaN or Infinity, a function or symbol where a value is expected
 * throws a TypeError saying what is wrong; `undefined` at the top is returned as is (the
 * caller decides what it means). It imports nothing, so a function worker can use it too.
 */
export function jsonText(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError(`${v} is not a JSON number`);
    if (typeof v === 'function' || typeof v === 'symbol') throw new TypeError(`a ${typeof v} is not a JSON value`);
    return v;
  });
}

/** The FN_RESULT_INVALID message for a value of function `name` that `jsonText` refused with `err` (or that has no JSON text). */
export function notJsonMessage(name: string, err?: unknown): string {
  if (err === undefined) return `Function "${name}" returned a value that is not JSON`;
  return `Function "${name}" returned a value that is not JSON: ${String((err as Error | null)?.message ?? err).split('\n')[0]}`;
}
