/**
 * The browser-safe part of `@mast/schema` (`@mast/schema/memory`): the in-memory filter
 * evaluator, value ordering and row types, without the manifest loader's Node imports. The
 * client evaluates its optimistic rows with the same code the server uses for live queries.
 */
export type * from './filter-ast.js';
export { evaluateFilter } from './evaluate-filter.js';
export { compareValues, valuesEqual } from './compare-values.js';
export { totalOrder } from './total-order.js';
