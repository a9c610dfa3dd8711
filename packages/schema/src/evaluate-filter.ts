import { compareValues, valuesEqual } from './compare-values.js';
import type { CompareOp, FilterNode, FilterValue, LikeNode, RelatedLookup } from './filter-ast.js';
import { foldCase, parseLike, renderLike, type LikeToken } from './like-pattern.js';

/**
 * The in-memory twin of the SQL filter compiler: for a row of domain values (as the store returns
 * them) it gives the same answer the SQL stores give. Two-valued: a null or missing cell is not
 * equal to any value (`ne v` and `nin` match it), is never ordered against anything, never in
 * a list, never like a pattern; `eq null` / `ne null` are IS NULL / IS NOT NULL; `not` is the
 * exact complement. Values are assumed already checked against the field's type (the filter
 * parser does that); a mismatched type is simply not equal. See compare-values.ts for ordering.
 */

type Matcher = (text: string) => boolean;

/** Compiled like matchers, per node: live queries evaluate one node against many rows. */
const matchers = new WeakMap<LikeNode, Matcher>();

const ONE = -1;
const MANY = -2;

/** Code points of the pattern, with ONE / MANY for the wildcards. */
function patternCodes(tokens: readonly LikeToken[]): number[] {
  const codes: number[] = [];
  for (const t of tokens) {
    if (t.kind === 'many') {
      if (codes[codes.length - 1] !== MANY) codes.push(MANY);
    } else if (t.kind === 'one') codes.push(ONE);
    else for (const ch of t.text) codes.push(ch.codePointAt(0)!);
  }
  return codes;
}

/**
 * Wildcard match in O(text × pattern) without backtracking blow-up (user patterns reach here):
 * on a mismatch, retry from the last `%` one character further along.
 */
function wildcardMatch(pattern: readonly number[], text: string): boolean {
  const s: number[] = [];
  for (const ch of text) s.push(ch.codePointAt(0)!);
  let p = 0;
  let i = 0;
  let star = -1;
  let resume = 0;
  while (i < s.length) {
    const c = pattern[p];
    if (c === MANY) {
      star = p++;
      resume = i;
    } else if (c !== undefined && (c === ONE || c === s[i])) {
      p++;
      i++;
    } else if (star >= 0) {
      p = star + 1;
      i = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === MANY) p++;
  return p === pattern.length;
}

function matcherFor(node: LikeNode): Matcher {
  let matcher = matchers.get(node);
  if (matcher) return matcher;
  const tokens = parseLike(node.pattern);
  if (node.caseInsensitive) {
    // Fold the rendered pattern as a whole, exactly as the SQL side does (the fold is contextual).
    const codes = patternCodes(parseLike(foldCase(renderLike(tokens))));
    matcher = (text) => wildcardMatch(codes, foldCase(text));
  } else {
    const codes = patternCodes(tokens);
    matcher = (text) => wildcardMatch(codes, text);
  }
  matchers.set(node, matcher);
  return matcher;
}

function compare(cell: unknown, op: CompareOp, value: FilterValue): boolean {
  if (value === null) {
    if (op === 'eq') return cell === null;
    if (op === 'ne') return cell !== null;
    return false;
  }
  if (cell === null) return op === 'ne';
  switch (op) {
    case 'eq':
      return valuesEqual(cell, value);
    case 'ne':
      return !valuesEqual(cell, value);
    case 'gt':
      return compareValues(cell, value) > 0;
    case 'gte':
      return compareValues(cell, value) >= 0;
    case 'lt':
      return compareValues(cell, value) < 0;
    case 'lte':
      return compareValues(cell, value) <= 0;
  }
}

function cellOf(row: Readonly<Record<string, unknown>>, field: string): unknown {
  const value = row[field];
  return value === undefined ? null : value;
}

const FALSE: FilterNode = Object.freeze({ kind: 'or', items: Object.freeze([]) });

/**
 * `where` of a RelatedNode tested on `row`, as a filter of its own: each link to `row` (at any
 * depth) becomes `field eq <row's value>` (false when that value is null); links to rows inside
 * stay. Evaluation binds the outermost row first, so no link can reach further out.
 */
export function bindOuterRow(where: FilterNode, row: Readonly<Record<string, unknown>>, level = 1): FilterNode {
  switch (where.kind) {
    case 'and':
    case 'or':
      return Object.freeze({ kind: where.kind, items: Object.freeze(where.items.map((item) => bindOuterRow(item, row, level))) });
    case 'not':
      return Object.freeze({ kind: 'not', item: bindOuterRow(where.item, row, level) });
    case 'related':
      return Object.freeze({ ...where, where: bindOuterRow(where.where, row, level + 1) });
    case 'link': {
      if (where.up < level) return where;
      if (where.up > level) throw new Error(`link ${where.field} = up(${where.up}).${where.outer} reaches past the outermost row`);
      const value = cellOf(row, where.outer);
      return value === null ? FALSE : Object.freeze({ kind: 'compare', field: where.field, op: 'eq', value: value as FilterValue });
    }
    default:
      return where;
  }
}

/**
 * Whether `row` matches `node`, with exactly the SQL stores' semantics. A RelatedNode asks
 * `lookup` (and throws without one); a LinkNode outside a RelatedNode is an error.
 */
export function evaluateFilter(node: FilterNode, row: Readonly<Record<string, unknown>>, lookup?: RelatedLookup): boolean {
  switch (node.kind) {
    case 'and':
      return node.items.every((item) => evaluateFilter(item, row, lookup));
    case 'or':
      return node.items.some((item) => evaluateFilter(item, row, lookup));
    case 'not':
      return !evaluateFilter(node.item, row, lookup);
    case 'related':
      if (!lookup) throw new Error(`a filter on related ${node.entity} rows needs a lookup to evaluate in memory`);
      return lookup(node.entity, bindOuterRow(node.where, row));
    case 'link':
      throw new Error(`link ${node.field} = up(${node.up}).${node.outer} outside a related filter`);
    case 'exists':
      return (cellOf(row, node.field) !== null) === node.exists;
    case 'compare':
      return compare(cellOf(row, node.field), node.op, node.value);
    case 'in': {
      const cell = cellOf(row, node.field);
      if (cell === null) return node.negate;
      const found = node.values.some((v) => v !== null && valuesEqual(cell, v));
      return found !== node.negate;
    }
    case 'like': {
      const cell = cellOf(row, node.field);
      if (cell === null) return false;
      return matcherFor(node)(typeof cell === 'string' ? cell : String(cell));
    }
  }
}

/** `filter` on `row` in three values: links and related rows are unknown (null). */
function partial(node: FilterNode, row: Readonly<Record<string, unknown>>): boolean | null {
  switch (node.kind) {
    case 'and':
    case 'or': {
      const absorbing = node.kind === 'or';
      let result: boolean | null = !absorbing;
      for (const item of node.items) {
        const value = partial(item, row);
        if (value === absorbing) return absorbing;
        if (value === null) result = null;
      }
      return result;
    }
    case 'not': {
      const value = partial(node.item, row);
      return value === null ? null : !value;
    }
    case 'link':
    case 'related':
      return null;
    default:
      return evaluateFilter(node, row);
  }
}

/**
 * Whether `row` of `entity` could be one of the rows a RelatedNode over `entity` in `filter`
 * looks for (at any depth). When it is false for a row's images before and after a change, the
 * change cannot alter which rows `filter` matches: what the RelatedNodes find is unchanged. It
 * only errs towards true (links and nested related rows count as "may match").
 */
export function relatedMayMatch(filter: FilterNode, entity: string, row: Readonly<Record<string, unknown>>): boolean {
  switch (filter.kind) {
    case 'and':
    case 'or':
      return filter.items.some((item) => relatedMayMatch(item, entity, row));
    case 'not':
      return relatedMayMatch(filter.item, entity, row);
    case 'related':
      return (filter.entity === entity && partial(filter.where, row) !== false) || relatedMayMatch(filter.where, entity, row);
    default:
      return false;
  }
}
