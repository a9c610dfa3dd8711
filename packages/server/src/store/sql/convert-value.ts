import type { FieldKind } from '@mast/schema';

/**
 * How a `changeType` migration converts an existing domain value to the new kind. Values with
 * no meaningful conversion (e.g. "abc" to int) become null rather than failing the migration,
 * because the change is destructive by definition and was allowed as such.
 */
export function convertValue(value: unknown, from: FieldKind, to: FieldKind): unknown {
  if (value === null || value === undefined) return null;
  if (from === to) return value;
  switch (to) {
    case 'string':
    case 'richtext':
    case 'id':
      return from === 'json' ? JSON.stringify(value) : String(value);
    case 'datetime': {
      const time = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
      return Number.isFinite(time) ? new Date(time).toISOString() : null;
    }
    case 'int': {
      const n = toNumber(value);
      return n === null ? null : Math.trunc(n);
    }
    case 'float':
      return toNumber(value);
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'number') return value !== 0;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      return null;
    case 'json':
      return value;
  }
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) && Math.abs(n) <= Number.MAX_SAFE_INTEGER ? n : null;
  }
  return null;
}
