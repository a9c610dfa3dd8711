/**
 * Bounds on the shape of untrusted JSON, checked without recursion before any recursive code
 * (a validator, a CRDT document, SQL compilation) sees the value. A value nested 10,000 deep
 * parses fine with `JSON.parse`, then overflows the stack of whatever walks it next.
 */
export interface JsonLimits {
  /** Deepest nesting of arrays and objects; a scalar is depth 0, `[]` and `{}` depth 1. */
  maxDepth: number;
  /** Most values (scalars, arrays, objects and keys together) in the whole value. */
  maxNodes: number;
}

/** The defaults every transport uses unless configured otherwise. */
export const DEFAULT_JSON_LIMITS: Readonly<JsonLimits> = Object.freeze({ maxDepth: 64, maxNodes: 100_000 });

/** Why a value is refused, or `null` when it is within the limits. */
export interface JsonLimitViolation {
  kind: 'depth' | 'size';
  /** The bound that was crossed. */
  limit: number;
}

/**
 * Walks `value` with an explicit stack and reports the first bound it crosses. Values that are
 * not plain JSON (functions, symbols) count as scalars: the shape, not the types, is checked here.
 */
export function checkJsonLimits(value: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): JsonLimitViolation | null {
  if (value === null || typeof value !== 'object') return null;
  const values: unknown[] = [value];
  const depths: number[] = [1];
  let nodes = 0;
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop() as number;
    if (depth > limits.maxDepth) return { kind: 'depth', limit: limits.maxDepth };
    const children = Array.isArray(current) ? current : Object.values(current as object);
    nodes += 1 + children.length * (Array.isArray(current) ? 1 : 2);
    if (nodes > limits.maxNodes) return { kind: 'size', limit: limits.maxNodes };
    for (const child of children) {
      if (child !== null && typeof child === 'object') {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return null;
}

/** The sentence an error message uses for a violation. */
export function describeJsonViolation(violation: JsonLimitViolation): string {
  return violation.kind === 'depth' ? `The value is nested deeper than ${violation.limit} levels` : `The value has more than ${violation.limit} elements`;
}
