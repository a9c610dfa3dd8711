import { evaluateFilter, type CompareOp, type FilterNode, type FilterValue } from '@mast/schema';
import { relatedEntities, rowLevel, type CompareNode, type PolicyExpr } from './ast.js';
import { compareConstants, inList, nullTest, test, truthy, operandValue, type PolicyContext } from './evaluate-policy.js';
import type { PolicyAuth, PolicyRow } from './policy-auth.js';

/**
 * The SQL back-end by partial evaluation: everything that does not read the row (auth, input,
 * literals, role functions) folds to a constant, and each comparison of a row field with a
 * constant becomes a FilterNode leaf, so the store's filter compiler pushes the rule into SQL.
 * The semantics are evaluate-policy.ts's, mapped onto the filter tree's (which evaluateFilter
 * and the SQL stores share): `!=` is `ne` (it matches null cells), a null constant makes `==`
 * false and `!=` true, and a literal null becomes IS [NOT] NULL.
 *
 * `exists(E, r => body)` becomes a RelatedNode over E whose filter is `body` compiled one level
 * in: `r.f` is then the filtered field, and `r.f == data.g` (or an outer binding's field) a
 * LinkNode `up` levels out. `depth` is the level of the row fields name (0: `data`).
 */

const OPS: Record<CompareNode['op'], CompareOp> = { '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' };
const FLIP: Record<CompareNode['op'], CompareNode['op']> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
const EXISTS = (field: string, exists: boolean): FilterNode => ({ kind: 'exists', field, exists });

/** The field a path names when it reads the row at `depth`. */
function rowField(expr: PolicyExpr, depth: number): string | null {
  return rowLevel(expr) === depth && expr.kind === 'path' ? expr.name : null;
}

function outerRow(expr: PolicyExpr, depth: number): never {
  throw new Error(`${expr.kind === 'path' ? `${expr.root}.${expr.name}` : expr.kind} reads an enclosing row at depth ${depth} (the checker rejects this)`);
}

function filterValue(value: unknown): FilterValue {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'object') return value as FilterValue;
  throw new TypeError(`a policy constant must be a JSON value, got ${typeof value}`);
}

function combine(kind: 'and' | 'or', parts: ReadonlyArray<FilterNode | boolean>): FilterNode | boolean {
  const absorbing = kind === 'or';
  const items: FilterNode[] = [];
  for (const part of parts) {
    if (part === absorbing) return absorbing;
    if (part !== !absorbing) items.push(part as FilterNode);
  }
  if (items.length === 0) return !absorbing;
  return items.length === 1 ? items[0]! : Object.freeze({ kind, items: Object.freeze(items) });
}

/** `r.f == <outer row>.g` (or `!=`): a LinkNode, negated for `!=`. */
function compileLink(expr: CompareNode, depth: number): FilterNode {
  const [inner, outer] = rowLevel(expr.left) === depth ? [expr.left, expr.right] : [expr.right, expr.left];
  const outerLevel = rowLevel(outer);
  if (inner.kind !== 'path' || outer.kind !== 'path' || outerLevel === null || outerLevel >= depth || (expr.op !== '==' && expr.op !== '!=')) {
    throw new Error(`${expr.op} between two row fields at depth ${depth} has no filter form (the checker rejects it)`);
  }
  const link: FilterNode = Object.freeze({ kind: 'link', field: inner.name, outer: outer.name, up: depth - outerLevel });
  return expr.op === '==' ? link : Object.freeze({ kind: 'not', item: link });
}

function compileCompare(expr: CompareNode, ctx: PolicyContext, depth: number): FilterNode | boolean {
  if (rowLevel(expr.left) !== null && rowLevel(expr.right) !== null) return compileLink(expr, depth);
  const left = rowField(expr.left, depth);
  const right = rowField(expr.right, depth);
  if (left === null && rowLevel(expr.left) !== null) outerRow(expr.left, depth);
  if (right === null && rowLevel(expr.right) !== null) outerRow(expr.right, depth);
  if (left === null && right === null) return test(expr, ctx);
  const field = (left ?? right)!;
  const other = left !== null ? expr.right : expr.left;
  const op = left !== null ? expr.op : FLIP[expr.op];
  if (nullTest(expr)) return expr.op === '==' ? EXISTS(field, false) : EXISTS(field, true);
  const value = operandValue(other, ctx);
  // A null constant (an anonymous caller's userId, an absent input field) equals nothing.
  if (value === null) return compareConstants(op, value, value);
  return Object.freeze({ kind: 'compare', field, op: OPS[op], value: filterValue(value) });
}

function compile(expr: PolicyExpr, ctx: PolicyContext, depth: number): FilterNode | boolean {
  switch (expr.kind) {
    case 'and':
    case 'or':
      return combine(
        expr.kind,
        expr.operands.map((e) => compile(e, ctx, depth)),
      );
    case 'not': {
      const inner = compile(expr.operand, ctx, depth);
      return typeof inner === 'boolean' ? !inner : Object.freeze({ kind: 'not', item: inner });
    }
    case 'compare':
      return compileCompare(expr, ctx, depth);
    case 'exists': {
      const where = compile(expr.body, ctx, depth + 1);
      if (where === false) return false;
      // `true`: any row of the entity will do (an empty `and` is true).
      const filter: FilterNode = where === true ? Object.freeze({ kind: 'and', items: Object.freeze([]) }) : where;
      return Object.freeze({ kind: 'related', entity: expr.entity, where: filter });
    }
    case 'in': {
      const field = rowField(expr.item, depth);
      if (field === null && rowLevel(expr.item) !== null) outerRow(expr.item, depth);
      if (field === null) return test(expr, ctx);
      const list = operandValue(expr.list, ctx);
      const values = (Array.isArray(list) ? list : []).filter((v: unknown) => v !== null).map(filterValue);
      if (values.length === 0) return inList(null, []);
      return Object.freeze({ kind: 'in', field, values: Object.freeze(values), negate: false });
    }
    case 'truthy': {
      const field = rowField(expr.operand, depth);
      if (field === null && rowLevel(expr.operand) !== null) outerRow(expr.operand, depth);
      if (field === null) return truthy(expr.mode, operandValue(expr.operand, ctx));
      if (expr.mode === 'bool') return Object.freeze({ kind: 'compare', field, op: 'eq', value: true });
      if (expr.mode === 'present') return EXISTS(field, true);
      return combine('and', [EXISTS(field, true), Object.freeze({ kind: 'compare', field, op: 'ne', value: '' })]);
    }
    default:
      return test(expr, ctx);
  }
}

/**
 * Compiles a checked rule for one caller (and, for write rules, one incoming change) into a
 * filter over the rows it allows: `true` (every row), `false` (none) or a FilterNode.
 */
export function compileToFilter(expr: PolicyExpr, auth: PolicyAuth, input?: PolicyRow): FilterNode | boolean {
  return compile(expr, { auth, data: null, input: input ?? null }, 0);
}

/**
 * Evaluates a checked rule in memory. A rule without `exists` is evaluated directly; one with
 * it is compiled for this caller and input and its filter evaluated on `data`, each related-row
 * condition answered by `ctx.lookup` (a synchronous query the caller provides; it throws
 * without one).
 */
export function evaluatePolicy(expr: PolicyExpr, ctx: PolicyContext): boolean {
  if (!readsRelated(expr)) return test(expr, ctx);
  const filter = compile(expr, { auth: ctx.auth, data: null, input: ctx.input ?? null }, 0);
  if (typeof filter === 'boolean') return filter;
  const lookup = ctx.lookup;
  if (!lookup) throw new Error('this rule reads related rows (exists): evaluate it with a lookup');
  return evaluateFilter(filter, ctx.data ?? {}, lookup);
}

const relational = new WeakMap<PolicyExpr, boolean>();

/** Whether a checked rule uses `exists` (memoised per frozen tree). */
export function readsRelated(expr: PolicyExpr): boolean {
  let known = relational.get(expr);
  if (known === undefined) relational.set(expr, (known = relatedEntities(expr).size > 0));
  return known;
}
