import type { OrderTerm } from './filter-ast.js';

/**
 * Makes an order total by appending `id`, in the direction of the last term (ascending when
 * there is none), unless `id` is already ordered. Stores and in-memory sorts both use this, so
 * a live window and a refetch agree row for row; following the last direction lets one index
 * walk (indexes end in `id`) serve the whole ORDER BY.
 */
export function totalOrder(order: readonly OrderTerm[] | undefined): OrderTerm[] {
  const terms = [...(order ?? [])];
  if (!terms.some((t) => t.field === 'id')) terms.push({ field: 'id', direction: terms.at(-1)?.direction ?? 'asc' });
  return terms;
}
