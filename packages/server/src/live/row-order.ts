import { compareValues, totalOrder, type OrderTerm } from '@mast/schema';
import type { Row } from '../store/index.js';

/** Orders two rows; negative when `a` comes first. */
export type RowComparator = (a: Row, b: Row) => number;

function compareNullable(a: unknown, b: unknown): number {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? -1 : 1;
  return compareValues(a, b);
}

/**
 * The in-memory twin of the stores' ORDER BY: terms in order, NULL as the smallest value (first
 * when ascending, last when descending), values compared as SQL compares them, made total by
 * `totalOrder`, so it matches a refetch exactly.
 */
export function rowComparator(order: readonly OrderTerm[] | undefined): RowComparator {
  const terms = totalOrder(order);
  return (a, b) => {
    for (const term of terms) {
      const c = compareNullable(a[term.field], b[term.field]);
      if (c !== 0) return term.direction === 'asc' ? c : -c;
    }
    return 0;
  };
}
