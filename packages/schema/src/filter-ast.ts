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

/**
 * A related row exists: some row of `entity` matches `where` (SQL `EXISTS (SELECT 1 FROM …)`).
 * Inside `where`, fields name `entity`'s fields, and LinkNodes reach the rows around it. The
 * related rows are read as they are: no read rule of `entity` applies to them.
 */
export interface RelatedNode {
  readonly kind: 'related';
  readonly entity: string;
  readonly where: FilterNode;
}

/**
 * Only inside a RelatedNode's `where`: this row's `field` equals the field `outer` of the row
 * `up` levels out (1: the row the innermost enclosing RelatedNode is tested on). Like `eq`, it
 * holds only when both are non-null, and `not` is its exact complement.
 */
export interface LinkNode {
  readonly kind: 'link';
  readonly field: string;
  readonly outer: string;
  readonly up: number;
}

/** A filter expression. An empty `and` is true; an empty `or` is false. */
export type FilterNode = CompareNode | InNode | LikeNode | ExistsNode | AndNode | OrNode | NotNode | RelatedNode | LinkNode;

/**
 * Answers a RelatedNode in memory: whether a row of `entity` matches `where`, a filter whose
 * links to the row outside have been replaced by that row's values (see `evaluateFilter`).
 */
export type RelatedLookup = (entity: string, where: FilterNode) => boolean;

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
