import { compareValues, valuesEqual, type RelatedLookup } from '@mast/schema';
import type { CompareNode, InNode, PolicyExpr, TruthyNode } from './ast.js';
import { hasAnyRole, type PolicyAuth, type PolicyRow } from './policy-auth.js';

/**
 * The in-memory back-end, and the value semantics the SQL back-end must reproduce. Two-valued:
 * `a == b` is true only when both are non-null and equal (so `auth.userId == data.ownerId` never
 * holds for an anonymous caller), `a != b` is exactly its negation, an ordering with a null
 * side is false, and a literal `null` makes `==` / `!=` an explicit null test. Values compare
 * as the SQL stores compare them (`valuesEqual` / `compareValues` of @mast/schema).
 */

/**
 * What a rule sees: the caller, the row (`data`), the incoming change (`input`), and for rules
 * with `exists` a synchronous `lookup` of related rows (see compile-to-filter's evaluatePolicy).
 */
export interface PolicyContext {
  readonly auth: PolicyAuth;
  readonly data?: PolicyRow | null;
  readonly input?: PolicyRow | null;
  readonly lookup?: RelatedLookup;
}

function unchecked(expr: PolicyExpr): never {
  throw new Error(`policy expression was not checked: ${expr.kind} at offset ${expr.offset}`);
}

/** The value of a value node (literal, path, list); null for a missing or undefined field. */
export function operandValue(expr: PolicyExpr, ctx: PolicyContext): unknown {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'list':
      return expr.items.map((item) => operandValue(item, ctx));
    case 'path': {
      if (expr.root === 'auth') return ctx.auth[expr.name as keyof PolicyAuth] ?? null;
      if (expr.root !== 'data' && expr.root !== 'input') return unchecked(expr);
      const row = expr.root === 'data' ? ctx.data : ctx.input;
      if (row === undefined || row === null) throw new Error(`${expr.root}.${expr.name} needs ${expr.root}, which this evaluation was not given`);
      return row[expr.name] ?? null;
    }
    default:
      return unchecked(expr);
  }
}

/** Whether a literal `null` appears on either side, making the comparison a null test. */
export function nullTest(expr: CompareNode): PolicyExpr | null {
  const isNull = (e: PolicyExpr): boolean => e.kind === 'literal' && e.value === null;
  if (isNull(expr.right)) return expr.left;
  if (isNull(expr.left)) return expr.right;
  return null;
}

/** `a op b` for two values, neither a literal null. */
export function compareConstants(op: CompareNode['op'], a: unknown, b: unknown): boolean {
  if (a === null || b === null) return op === '!=';
  switch (op) {
    case '==':
      return valuesEqual(a, b);
    case '!=':
      return !valuesEqual(a, b);
    case '<':
      return compareValues(a, b) < 0;
    case '<=':
      return compareValues(a, b) <= 0;
    case '>':
      return compareValues(a, b) > 0;
    case '>=':
      return compareValues(a, b) >= 0;
  }
}

/** Whether `value` equals one of the non-null `list` items. */
export function inList(value: unknown, list: unknown): boolean {
  if (value === null || !Array.isArray(list)) return false;
  return list.some((item: unknown) => item !== null && valuesEqual(value, item));
}

/** A value used as a condition, per TruthyNode's modes. */
export function truthy(mode: TruthyNode['mode'], value: unknown): boolean {
  if (mode === 'bool') return value === true;
  if (mode === 'text') return value !== null && value !== '';
  return value !== null;
}

function testIn(expr: InNode, ctx: PolicyContext): boolean {
  return inList(operandValue(expr.item, ctx), operandValue(expr.list, ctx));
}

/** Evaluates a condition node without `exists` in memory (rules with it go through their filter). */
export function test(expr: PolicyExpr, ctx: PolicyContext): boolean {
  switch (expr.kind) {
    case 'and':
      return expr.operands.every((e) => test(e, ctx));
    case 'or':
      return expr.operands.some((e) => test(e, ctx));
    case 'not':
      return !test(expr.operand, ctx);
    case 'compare': {
      const other = nullTest(expr);
      if (other) {
        const isNull = other.kind === 'literal' && other.value === null ? true : operandValue(other, ctx) === null;
        return expr.op === '==' ? isNull : !isNull;
      }
      return compareConstants(expr.op, operandValue(expr.left, ctx), operandValue(expr.right, ctx));
    }
    case 'in':
      return testIn(expr, ctx);
    case 'call':
      return hasAnyRole(
        ctx.auth,
        expr.args.map((a) => (a.kind === 'literal' ? String(a.value) : unchecked(a))),
      );
    case 'truthy':
      return truthy(expr.mode, operandValue(expr.operand, ctx));
    default:
      return unchecked(expr);
  }
}
