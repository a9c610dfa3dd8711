import type { CompareOp, FilterNode, FilterValue } from '@mast/schema';
import type { CompareNode, PolicyExpr } from './ast.js';
import { compareConstants, inList, nullTest, test, truthy, valueOf, type PolicyContext } from './evaluate-policy.js';
import type { PolicyAuth, PolicyRow } from './policy-auth.js';

/**
 * The SQL back-end by partial evaluation: everything that does not read the row (auth, input,
 * literals, role functions) folds to a constant, and each comparison of a row field with a
 * constant becomes a FilterNode leaf, so the store's filter compiler pushes the rule into SQL.
 * The semantics are evaluate-policy.ts's, mapped onto the filter tree's (which evaluateFilter
 * and the SQL stores share): `!=` is `ne` (it matches null cells), a null constant makes `==`
 * false and `!=` true, and a literal null becomes IS [NOT] NULL.
 */

const OPS: Record<CompareNode['op'], CompareOp> = { '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' };
const FLIP: Record<CompareNode['op'], CompareNode['op']> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
const EXISTS = (field: string, exists: boolean): FilterNode => ({ kind: 'exists', field, exists });

function dataField(expr: PolicyExpr): string | null {
  return expr.kind === 'path' && expr.root === 'data' ? expr.name : null;
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

function compileCompare(expr: CompareNode, ctx: PolicyContext): FilterNode | boolean {
  const left = dataField(expr.left);
  const right = dataField(expr.right);
  if (left !== null && right !== null) {
    throw new Error(`data.${left} ${expr.op} data.${right}: row-to-row comparisons have no filter form (the checker rejects them)`);
  }
  if (left === null && right === null) return test(expr, ctx);
  const field = (left ?? right)!;
  const other = left !== null ? expr.right : expr.left;
  const op = left !== null ? expr.op : FLIP[expr.op];
  if (nullTest(expr)) return expr.op === '==' ? EXISTS(field, false) : EXISTS(field, true);
  const value = valueOf(other, ctx);
  // A null constant (an anonymous caller's userId, an absent input field) equals nothing.
  if (value === null) return compareConstants(op, value, value);
  return Object.freeze({ kind: 'compare', field, op: OPS[op], value: filterValue(value) });
}

function compile(expr: PolicyExpr, ctx: PolicyContext): FilterNode | boolean {
  switch (expr.kind) {
    case 'and':
    case 'or':
      return combine(expr.kind, expr.operands.map((e) => compile(e, ctx)));
    case 'not': {
      const inner = compile(expr.operand, ctx);
      return typeof inner === 'boolean' ? !inner : Object.freeze({ kind: 'not', item: inner });
    }
    case 'compare':
      return compileCompare(expr, ctx);
    case 'in': {
      const field = dataField(expr.item);
      if (field === null) return test(expr, ctx);
      const list = valueOf(expr.list, ctx);
      const values = (Array.isArray(list) ? list : []).filter((v: unknown) => v !== null).map(filterValue);
      if (values.length === 0) return inList(null, []);
      return Object.freeze({ kind: 'in', field, values: Object.freeze(values), negate: false });
    }
    case 'truthy': {
      const field = dataField(expr.operand);
      if (field === null) return truthy(expr.mode, valueOf(expr.operand, ctx));
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
  return compile(expr, { auth, data: null, input: input ?? null });
}
