/**
 * The policy AST: frozen plain data, one node kind per interface. The parser builds it from
 * text; the checker returns a new tree in which every path is resolved (`auth` properties under
 * their canonical names), literals are converted to the field they meet, and every value used as
 * a condition is wrapped in a TruthyNode. The back-ends expect checked trees. `offset` is the
 * node's UTF-16 offset in its source, for messages.
 */

/** A literal value. */
export interface LiteralNode {
  readonly kind: 'literal';
  readonly value: string | number | boolean | null;
  readonly offset: number;
}

/**
 * `root.name[.rest…]`; after checking, root is auth, data, input or the name an enclosing
 * `exists` binds, and rest is empty. The checker sets `level` on a bound row's path: 1 for the
 * outermost `exists`, 2 inside it, … (`data` is level 0).
 */
export interface PathNode {
  readonly kind: 'path';
  readonly root: string;
  readonly name: string;
  readonly rest: readonly string[];
  readonly offset: number;
  readonly level?: number;
}

/**
 * `exists(Entity, r => body)`: some row of Entity, bound as `r`, makes `body` hold. Inside
 * `body`, `r.f` is a field of that row; it may equal a field of an enclosing row (`data.f`, or
 * an outer binding's), or compare with constants.
 */
export interface ExistsNode {
  readonly kind: 'exists';
  readonly entity: string;
  readonly entityOffset: number;
  readonly binding: string;
  readonly bindingOffset: number;
  readonly body: PolicyExpr;
  readonly offset: number;
}

/** `[a, b, …]`, only as the right side of `in`. */
export interface ListNode {
  readonly kind: 'list';
  readonly items: readonly PolicyExpr[];
  readonly offset: number;
}

/** The comparison operators. */
export type CompareOperator = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** `left op right`; offset is the operator's. */
export interface CompareNode {
  readonly kind: 'compare';
  readonly op: CompareOperator;
  readonly left: PolicyExpr;
  readonly right: PolicyExpr;
  readonly offset: number;
}

/** `item in list` (a list literal or `auth.roles`). */
export interface InNode {
  readonly kind: 'in';
  readonly item: PolicyExpr;
  readonly list: PolicyExpr;
  readonly offset: number;
}

/** `!operand`. */
export interface NotNode {
  readonly kind: 'not';
  readonly operand: PolicyExpr;
  readonly offset: number;
}

/** `a && b && …`. */
export interface AndNode {
  readonly kind: 'and';
  readonly operands: readonly PolicyExpr[];
  readonly offset: number;
}

/** `a || b || …`. */
export interface OrNode {
  readonly kind: 'or';
  readonly operands: readonly PolicyExpr[];
  readonly offset: number;
}

/** `auth.hasRole("r")` / `auth.hasAnyRole("a", "b")`: `callee` is the dotted name as written. */
export interface CallNode {
  readonly kind: 'call';
  readonly callee: string;
  readonly args: readonly PolicyExpr[];
  readonly offset: number;
}

/**
 * A value used as a condition (inserted by the checker): `bool` is `== true`, `text` is
 * non-null and non-empty, `present` is non-null (Pylon: a number is always truthy).
 */
export interface TruthyNode {
  readonly kind: 'truthy';
  readonly mode: 'bool' | 'text' | 'present';
  readonly operand: LiteralNode | PathNode;
  readonly offset: number;
}

/** Any policy expression. */
export type PolicyExpr = LiteralNode | PathNode | ListNode | CompareNode | InNode | NotNode | AndNode | OrNode | CallNode | TruthyNode | ExistsNode;

/** The row a path reads: 0 for `data`, its binding's level for a bound row, null otherwise. */
export function rowLevel(expr: PolicyExpr): number | null {
  if (expr.kind !== 'path') return null;
  if (expr.level !== undefined) return expr.level;
  return expr.root === 'data' ? 0 : null;
}

/** The entities whose rows a checked rule reads through `exists`, in order of appearance. */
export function relatedEntities(expr: PolicyExpr, into: Set<string> = new Set()): Set<string> {
  switch (expr.kind) {
    case 'and':
    case 'or':
      for (const e of expr.operands) relatedEntities(e, into);
      break;
    case 'not':
      relatedEntities(expr.operand, into);
      break;
    case 'exists':
      into.add(expr.entity);
      relatedEntities(expr.body, into);
      break;
    default:
      break;
  }
  return into;
}

/** Freezes a node (shallowly: children are frozen when they are built). */
export function node<T extends PolicyExpr>(value: T): T {
  return Object.freeze(value);
}

/** A related-row lookup a rule makes: the entity and the fields it is found by (equalities). */
export interface RelatedAccess {
  readonly entity: string;
  /** Fields of `entity` every matching row must equal something on (an enclosing row, a constant). */
  readonly fields: readonly string[];
}

function equalityFields(body: PolicyExpr, level: number, into: Set<string>): void {
  if (body.kind === 'and') {
    for (const operand of body.operands) equalityFields(operand, level, into);
    return;
  }
  if (body.kind !== 'compare' || body.op !== '==') return;
  for (const side of [body.left, body.right]) {
    if (side.kind === 'path' && rowLevel(side) === level) into.add(side.name);
  }
}

/**
 * Every `exists` of a checked rule with the fields it finds rows by: the `==` conditions on the
 * bound row at the top level of its body (what an index should cover).
 */
export function relatedAccesses(expr: PolicyExpr, level = 0, into: RelatedAccess[] = []): RelatedAccess[] {
  switch (expr.kind) {
    case 'and':
    case 'or':
      for (const e of expr.operands) relatedAccesses(e, level, into);
      break;
    case 'not':
      relatedAccesses(expr.operand, level, into);
      break;
    case 'exists': {
      const fields = new Set<string>();
      equalityFields(expr.body, level + 1, fields);
      into.push({ entity: expr.entity, fields: [...fields] });
      relatedAccesses(expr.body, level + 1, into);
      break;
    }
    default:
      break;
  }
  return into;
}
