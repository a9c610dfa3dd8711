/**
 * The filter tree every store compiles to its own SQL, and that policies and live queries
 * evaluate in memory. Built (and validated against the schema)
 * above the store, so values are already in their domain type: booleans are booleans,
 * datetimes ISO strings, json values parsed. Nodes are frozen plain data.
 */

/** A value a filter compares with. */
export type FilterValue = string | number | boolean | null | { readonly [k: string]: unknown } | readonly unknown[];

export type CompareOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte';

/** `field <op> value`. `eq null` / `ne null` mean IS NULL / IS NOT NULL. */
export interface CompareNode {
  readonly kind: 'compare';
  readonly field: string;
  readonly op: CompareOp;
  readonly value: FilterValue;
}

/** `field IN (...)` or, with `negate`, `field NOT IN (...)` (NULLs never match `in`). */
export interface InNode {
  readonly kind: 'in';
  readonly field: string;
  readonly values: readonly FilterValue[];
  readonly negate: boolean;
}

/** SQL LIKE with `%`/`_` wildcards and `\` as escape; `caseInsensitive` for `$ilike`. */
export interface LikeNode {
  readonly kind: 'like';
  readonly field: string;
  readonly pattern: string;
  readonly caseInsensitive: boolean;
}

/** `field IS [NOT] NULL`. */
export interface ExistsNode {
  readonly kind: 'exists';
  readonly field: string;
  readonly exists: boolean;
}

export interface AndNode {
  readonly kind: 'and';
  readonly items: readonly FilterNode[];
}

export interface OrNode {
  readonly kind: 'or';
  readonly items: readonly FilterNode[];
}

export interface NotNode {
  readonly kind: 'not';
  readonly item: FilterNode;
}

/** A filter expression. An empty `and` is true; an empty `or` is false. */
export type FilterNode = CompareNode | InNode | LikeNode | ExistsNode | AndNode | OrNode | NotNode;

/** One ORDER BY term. `id` is always a valid field. */
export interface OrderTerm {
  readonly field: string;
  readonly direction: 'asc' | 'desc';
}

/**
 * A read of rows from one entity. The store appends `id` as the last order term, in the
 * direction of the last given term (ascending when none is given), so every order is total and
 * pagination stays stable.
 */
export interface FindQuery {
  readonly where?: FilterNode;
  readonly order?: readonly OrderTerm[];
  readonly limit?: number;
  readonly offset?: number;
}
