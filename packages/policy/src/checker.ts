import type { FieldKind } from '@mast/schema';
import { node, type CallNode, type CompareNode, type ExistsNode, type InNode, type ListNode, type LiteralNode, type PathNode, type PolicyExpr } from './ast.js';
import { fitLiteral, typeName, typeOfKind, type StaticType } from './literal-fit.js';
import { AUTH_ALIASES, type AuthProperty } from './policy-auth.js';
import type { PolicyCode } from './policy-codes.js';
import { policyDiagnostic, PolicyError, type PolicyDiagnostic, type PolicyOrigin } from './policy-error.js';
import type { PolicyScope } from './policy-scope.js';
import { didYouMean } from './suggest.js';

/** A checked value: its rewritten node, static type, and which row it reads (null: none). */
interface Value {
  readonly node: PolicyExpr;
  readonly type: StaticType;
  /** 0 for `data`, the binding's level for a row bound by `exists`; null for constants. */
  readonly level: number | null;
  /** The field kind when the value is `data.f` or `input.f`, so literals can be fitted to it. */
  readonly kind?: FieldKind;
  readonly label: string;
}

const AUTH_TYPES: Record<AuthProperty, StaticType> = {
  userId: { t: 'string' },
  tenantId: { t: 'string' },
  orgRole: { t: 'string' },
  isAdmin: { t: 'bool' },
  isGuest: { t: 'bool' },
  roles: { t: 'list', item: { t: 'string' } },
};
const ERROR: StaticType = { t: 'error' };
const SCALARS: ReadonlySet<string> = new Set(['string', 'number', 'bool', 'datetime', 'json']);
const ORDERED: ReadonlySet<string> = new Set(['string', 'number', 'datetime']);
const FUNCTIONS: ReadonlySet<string> = new Set(['auth.hasRole', 'auth.hasAnyRole']);
/** How deep `exists` may nest (Message → Channel → Workspace membership is 2). */
export const MAX_EXISTS_DEPTH = 3;
const RESERVED: ReadonlySet<string> = new Set(['auth', 'data', 'input', 'exists', 'in', 'true', 'false', 'null']);

/** A row bound by an enclosing `exists`. */
interface Frame {
  readonly name: string;
  readonly entity: string;
  readonly fields: ReadonlyMap<string, FieldKind>;
}

function labelOf(expr: PolicyExpr): string {
  switch (expr.kind) {
    case 'literal':
      return JSON.stringify(expr.value);
    case 'path':
      return [expr.root, expr.name, ...expr.rest].filter((s) => s !== '').join('.');
    case 'list':
      return 'a list';
    default:
      return 'a condition';
  }
}

function isNullLiteral(expr: PolicyExpr): boolean {
  return expr.kind === 'literal' && expr.value === null;
}

class Checker {
  readonly diagnostics: PolicyDiagnostic[] = [];
  /** Rows bound by the enclosing `exists`, outermost first; the innermost is level `frames.length`. */
  private readonly frames: Frame[] = [];

  constructor(
    private readonly scope: PolicyScope,
    private readonly source: string,
    private readonly origin: PolicyOrigin | undefined,
  ) {}

  private report(code: PolicyCode, offset: number, text: string, hint?: string): void {
    this.diagnostics.push(policyDiagnostic(code, this.source, offset, this.origin, text, hint));
  }

  private failed(expr: PolicyExpr, level: number | null = null): Value {
    return { node: expr, type: ERROR, level, label: labelOf(expr) };
  }

  /** The level of the row conditions are about here: `data` (0) or the innermost binding. */
  private get depth(): number {
    return this.frames.length;
  }

  /** Reports a value that reads an enclosing row where only the current row's fields may be used. */
  private outer(value: Value, offset: number): boolean {
    if (value.level === null || value.level >= this.depth || value.type.t === 'error') return false;
    const inner = this.frames[this.frames.length - 1]!;
    this.report(
      'POLICY_OUTER_ROW',
      offset,
      `${value.label} belongs to an enclosing row; inside exists(${inner.entity}, ${inner.name} => …) a condition is about ${inner.name}`,
      `use ${value.label} only as ${inner.name}.<field> == ${value.label}, or move the condition outside exists`,
    );
    return true;
  }

  private exists(expr: ExistsNode): PolicyExpr {
    if (this.depth >= MAX_EXISTS_DEPTH) {
      this.report('POLICY_TOO_DEEP', expr.offset, `exists nests at most ${MAX_EXISTS_DEPTH} levels`, 'each level is one subquery per row read; join fewer entities');
      return expr;
    }
    const fields = this.scope.entities.get(expr.entity);
    if (!fields) {
      const known = [...this.scope.entities.keys()];
      this.report(
        'POLICY_UNKNOWN_ENTITY',
        expr.entityOffset,
        `unknown entity ${expr.entity}${didYouMean(expr.entity, known)}`,
        known.length > 0 ? `entities: ${known.join(', ')}` : undefined,
      );
      return expr;
    }
    if (RESERVED.has(expr.binding) || expr.binding === this.scope.inputRoot || this.frames.some((f) => f.name === expr.binding)) {
      this.report(
        'POLICY_BINDING',
        expr.bindingOffset,
        `${expr.binding} cannot name the related row: it is already ${RESERVED.has(expr.binding) || expr.binding === this.scope.inputRoot ? 'a word of the language' : 'bound by an enclosing exists'}`,
        'pick a new short name, e.g. m => m.userId == auth.userId',
      );
      return expr;
    }
    this.frames.push({ name: expr.binding, entity: expr.entity, fields });
    try {
      return node({ ...expr, body: this.condition(expr.body) });
    } finally {
      this.frames.pop();
    }
  }

  condition(expr: PolicyExpr): PolicyExpr {
    switch (expr.kind) {
      case 'and':
      case 'or':
        return node({ ...expr, operands: Object.freeze(expr.operands.map((e) => this.condition(e))) });
      case 'not':
        return node({ ...expr, operand: this.condition(expr.operand) });
      case 'compare':
        return this.compare(expr);
      case 'in':
        return this.in(expr);
      case 'call':
        return this.call(expr);
      case 'truthy':
        return expr;
      case 'exists':
        return this.exists(expr);
      case 'list':
        this.report('POLICY_NOT_CONDITION', expr.offset, 'a list is not a condition; use it on the right of in');
        return expr;
      case 'literal':
      case 'path': {
        const value = this.value(expr);
        const t = value.type.t;
        if (t === 'error' || this.outer(value, expr.offset)) return expr;
        if (t === 'json' || t === 'list') {
          const use = t === 'list' ? 'use auth.hasRole("r") or "r" in auth.roles' : `compare it, e.g. ${value.label} == "x"`;
          this.report('POLICY_NOT_CONDITION', expr.offset, `${value.label} is a ${typeName(value.type)}, not a condition; ${use}`);
          return expr;
        }
        const mode = t === 'bool' ? 'bool' : t === 'string' || t === 'datetime' ? 'text' : 'present';
        return node({ kind: 'truthy', mode, operand: value.node as LiteralNode | PathNode, offset: expr.offset });
      }
    }
  }

  private value(expr: PolicyExpr): Value {
    switch (expr.kind) {
      case 'literal': {
        const v = expr.value;
        const type: StaticType =
          v === null ? { t: 'null' } : typeof v === 'number' ? { t: 'number', integer: Number.isSafeInteger(v) } : { t: typeof v === 'string' ? 'string' : 'bool' };
        return { node: expr, type, level: null, label: labelOf(expr) };
      }
      case 'path':
        return this.path(expr);
      case 'list':
        return this.list(expr);
      default:
        this.report('POLICY_TYPE_MISMATCH', expr.offset, `expected a value here, found a condition`, 'comparisons take values (data.x, auth.x, input.x, literals) on both sides');
        return this.failed(expr);
    }
  }

  private path(expr: PathNode): Value {
    const label = labelOf(expr);
    if (expr.rest.length > 0) {
      this.report('POLICY_NESTED_PATH', expr.offset, `${label}: a path has one name after ${expr.root}`, 'json sub-fields cannot be read by policies');
      return this.failed(expr, expr.root === 'data' ? 0 : null);
    }
    const frame = this.frames.findIndex((f) => f.name === expr.root);
    if (frame >= 0) {
      const { fields, entity } = this.frames[frame]!;
      const kind = fields.get(expr.name);
      if (kind === undefined) {
        const text = expr.name === '' ? `${expr.root} needs a field name: ${expr.root}.<field>` : `unknown field ${label} on ${entity}${didYouMean(expr.name, fields.keys())}`;
        this.report('POLICY_UNKNOWN_FIELD', expr.offset, text, `fields: ${[...fields.keys()].join(', ')}`);
        return this.failed(expr, frame + 1);
      }
      return { node: node({ ...expr, level: frame + 1 }), type: typeOfKind(kind), level: frame + 1, kind, label };
    }
    if (expr.root === 'auth') {
      const canonical = AUTH_ALIASES.get(expr.name);
      if (!canonical) {
        const known = ['userId', 'isAdmin', 'isGuest', 'roles', 'tenantId', 'orgRole'];
        this.report('POLICY_UNKNOWN_AUTH', expr.offset, `unknown auth property ${label}${didYouMean(expr.name, AUTH_ALIASES.keys())}`, `auth has ${known.join(', ')}`);
        return this.failed(expr);
      }
      return { node: node({ ...expr, name: canonical }), type: AUTH_TYPES[canonical], level: null, label };
    }
    const inputRoot = this.scope.inputRoot ?? 'input';
    if (inputRoot !== 'input' && (expr.root === inputRoot || expr.root === 'input')) {
      if (expr.root === 'input') {
        this.report('POLICY_SCOPE', expr.offset, `${label} cannot be used here: this rule applies to ${this.scope.applies}; the room name's parts are ${inputRoot}.<name>`);
        return this.failed(expr);
      }
      const fields = this.scope.input ?? new Map<string, FieldKind>();
      const kind = fields.get(expr.name);
      if (kind === undefined) {
        const known = [...fields.keys()];
        const text =
          expr.name === '' ? `${inputRoot} needs a placeholder name: ${inputRoot}.<name>` : `unknown placeholder ${label} of ${this.scope.target}${didYouMean(expr.name, known)}`;
        this.report('POLICY_UNKNOWN_FIELD', expr.offset, text, known.length > 0 ? `placeholders: ${known.join(', ')}` : 'the pattern has no {placeholder}');
        return this.failed(expr);
      }
      // Evaluated as input: the room's captured values are the rule's input.
      return { node: node({ ...expr, root: 'input' }), type: typeOfKind(kind), level: null, kind, label };
    }
    if (expr.root === 'data' || expr.root === 'input') {
      const fields = expr.root === 'data' ? this.scope.data : this.scope.input;
      if (fields === null) {
        const why = expr.root === 'data' ? 'there is no row' : 'there is no incoming change (input is for insert and update rules)';
        this.report('POLICY_SCOPE', expr.offset, `${label} cannot be used here: this rule applies to ${this.scope.applies}, where ${why}`);
        return this.failed(expr);
      }
      const kind = fields.get(expr.name);
      if (kind === undefined) {
        const text =
          expr.name === '' ? `${expr.root} needs a field name: ${expr.root}.<field>` : `unknown field ${label} on ${this.scope.target}${didYouMean(expr.name, fields.keys())}`;
        this.report('POLICY_UNKNOWN_FIELD', expr.offset, text, `fields: ${[...fields.keys()].join(', ')}`);
        return this.failed(expr, expr.root === 'data' ? 0 : null);
      }
      return { node: expr, type: typeOfKind(kind), level: expr.root === 'data' ? 0 : null, kind, label };
    }
    const roots = inputRoot === 'input' ? ['auth', 'data', 'input', ...this.frames.map((f) => f.name)] : ['auth', inputRoot, ...this.frames.map((f) => f.name)];
    const hint =
      expr.root === 'exists'
        ? 'exists takes an entity and a condition: exists(Membership, m => m.userId == auth.userId)'
        : `paths start with ${roots.map((r) => `${r}.`).join(', ')}`;
    this.report('POLICY_UNKNOWN_ROOT', expr.offset, `unknown name ${label}${didYouMean(expr.root, roots)}`, hint);
    return this.failed(expr);
  }

  /** A list outside `in` is only ever reported by the caller; its items are still checked. */
  private list(expr: ListNode): Value {
    const items = expr.items.map((raw) => this.value(raw));
    const type: StaticType = { t: 'list', item: items[0]?.type ?? ERROR };
    return { node: node({ ...expr, items: Object.freeze(items.map((v) => v.node)) }), type, level: null, label: 'a list' };
  }

  private compatible(a: StaticType, b: StaticType, op: CompareNode['op']): boolean {
    if (a.t === 'error' || b.t === 'error') return true;
    if (op !== '==' && op !== '!=') return a.t === b.t && ORDERED.has(a.t);
    if (a.t === b.t) return SCALARS.has(a.t);
    return (a.t === 'json' && SCALARS.has(b.t)) || (b.t === 'json' && SCALARS.has(a.t));
  }

  /** Fits a literal on one side to the field on the other; reports and returns null on a mismatch. */
  private fit(field: Value, other: Value, offset: number): Value | null {
    if (field.kind === undefined || other.node.kind !== 'literal') return other;
    const fitted = fitLiteral(other.node, field.kind, field.label);
    if ('code' in fitted) {
      this.report(fitted.code, offset, fitted.text);
      return null;
    }
    return { ...other, node: fitted, type: typeOfKind(field.kind) };
  }

  /** Checks `a op b` for two non-null values; returns the fitted pair or null after a report. */
  private pair(a: Value, b: Value, op: CompareNode['op'], offset: number): [Value, Value] | null {
    if (a.type.t === 'error' || b.type.t === 'error') return [a, b];
    if (a.level !== null && b.level !== null) return this.link(a, b, op, offset);
    if (this.outer(a, a.node.offset) || this.outer(b, b.node.offset)) return null;
    if (a.type.t === 'list' || b.type.t === 'list') {
      const list = a.type.t === 'list' ? a : b;
      this.report('POLICY_TYPE_MISMATCH', offset, `${list.label} is a list; use in`, 'e.g. "editor" in auth.roles');
      return null;
    }
    const fa = this.fit(b, a, a.node.offset);
    const fb = this.fit(a, b, b.node.offset);
    if (fa === null || fb === null) return null;
    if (!this.compatible(fa.type, fb.type, op)) {
      const ordered = op !== '==' && op !== '!=';
      const text =
        ordered && fa.type.t === fb.type.t
          ? `${op} orders numbers, text and datetimes; ${fa.label} is ${typeName(fa.type)}`
          : `cannot compare ${fa.label} (${typeName(fa.type)}) with ${fb.label} (${typeName(fb.type)})`;
      this.report('POLICY_TYPE_MISMATCH', offset, text);
      return null;
    }
    return [fa, fb];
  }

  /**
   * Two row fields: allowed only inside exists, as `==` / `!=` between the related row and one
   * enclosing row (a link, which SQL writes as a correlated equality), on equal scalar types.
   */
  private link(a: Value, b: Value, op: CompareNode['op'], offset: number): [Value, Value] | null {
    const depth = this.depth;
    const linked = (a.level === depth) !== (b.level === depth) && Math.min(a.level!, b.level!) < depth;
    if (!linked) {
      const same = a.level === b.level;
      const text = same ? `${a.label} ${op} ${b.label} compares two fields of the ${depth === 0 ? 'row' : 'same row'}` : `${a.label} ${op} ${b.label} compares two enclosing rows`;
      const hint =
        depth === 0
          ? 'compare a row field with a literal, an auth value or an input value; to relate rows use exists(Entity, r => r.field == data.field)'
          : 'inside exists, compare a field of the related row with one field of an enclosing row';
      this.report('POLICY_DATA_COMPARISON', offset, text, hint);
      return null;
    }
    if (op !== '==' && op !== '!=') {
      this.report('POLICY_TYPE_MISMATCH', offset, `${a.label} ${op} ${b.label}: rows are related by == (or !=) only`);
      return null;
    }
    if (a.type.t === 'list' || b.type.t === 'list' || a.type.t === 'json' || b.type.t === 'json' || !this.compatible(a.type, b.type, op) || a.type.t !== b.type.t) {
      this.report(
        'POLICY_TYPE_MISMATCH',
        offset,
        `cannot relate ${a.label} (${typeName(a.type)}) to ${b.label} (${typeName(b.type)})`,
        'related fields have the same type (an id(Entity) field and id are both text); json fields cannot relate rows',
      );
      return null;
    }
    return [a, b];
  }

  private compare(expr: CompareNode): PolicyExpr {
    const a = this.value(expr.left);
    const b = this.value(expr.right);
    if (isNullLiteral(expr.left) || isNullLiteral(expr.right)) {
      if (expr.op !== '==' && expr.op !== '!=') {
        this.report('POLICY_BAD_LITERAL', expr.offset, `${expr.op} cannot compare with null`, 'test for null with == null or != null');
      }
      const other = isNullLiteral(expr.left) ? b : a;
      if (this.outer(other, expr.offset)) return expr;
      if (other.type.t === 'list') this.report('POLICY_TYPE_MISMATCH', expr.offset, `${other.label} is a list and is never null`);
      return node({ ...expr, left: a.node, right: b.node });
    }
    const pair = this.pair(a, b, expr.op, expr.offset);
    return pair ? node({ ...expr, left: pair[0].node, right: pair[1].node }) : expr;
  }

  private in(expr: InNode): PolicyExpr {
    if (isNullLiteral(expr.item)) {
      this.report('POLICY_BAD_LITERAL', expr.item.offset, 'null is never in a list', 'test for null with == null');
      return expr;
    }
    const item = this.value(expr.item);
    if (this.outer(item, expr.item.offset)) return expr;
    if (item.type.t === 'list') {
      this.report('POLICY_TYPE_MISMATCH', expr.item.offset, `${item.label} is a list; the left side of in is one value`);
      return expr;
    }
    if (expr.list.kind === 'list') {
      const items: PolicyExpr[] = [];
      let ok = true;
      for (const element of expr.list.items) {
        const v = this.value(element);
        let pair: [Value, Value] | null = null;
        if (v.level !== null) this.report('POLICY_DATA_COMPARISON', element.offset, `list items are literals, auth or input values, not ${v.label}`);
        else if (isNullLiteral(element)) this.report('POLICY_BAD_LITERAL', element.offset, 'null cannot be in a list', 'test for null with == null');
        else pair = this.pair(item, v, '==', element.offset);
        if (pair) items.push(pair[1].node);
        else ok = false;
      }
      return ok ? node({ ...expr, item: item.node, list: node({ ...expr.list, items: Object.freeze(items) }) }) : expr;
    }
    const list = this.value(expr.list);
    if (list.type.t !== 'list') {
      if (list.type.t !== 'error') this.report('POLICY_TYPE_MISMATCH', expr.list.offset, `the right side of in is a list [...] or auth.roles, not ${list.label}`);
      return expr;
    }
    // auth.roles: a list of strings.
    const pair = this.pair(item, { ...list, type: list.type.item, label: 'a role' }, '==', expr.offset);
    return pair ? node({ ...expr, item: pair[0].node, list: list.node }) : expr;
  }

  private call(expr: CallNode): PolicyExpr {
    if (!FUNCTIONS.has(expr.callee)) {
      this.report(
        'POLICY_UNKNOWN_FUNCTION',
        expr.offset,
        `unknown function ${expr.callee}${didYouMean(expr.callee, FUNCTIONS)}`,
        'functions: auth.hasRole("r"), auth.hasAnyRole("a", "b")',
      );
      return expr;
    }
    const one = expr.callee === 'auth.hasRole';
    if (one ? expr.args.length !== 1 : expr.args.length === 0) {
      const wanted = one ? 'exactly one role' : 'at least one role';
      this.report('POLICY_ARITY', expr.offset, `${expr.callee} takes ${wanted}, got ${expr.args.length} argument${expr.args.length === 1 ? '' : 's'}`);
      return expr;
    }
    for (const arg of expr.args) {
      if (arg.kind !== 'literal' || typeof arg.value !== 'string') {
        this.report('POLICY_TYPE_MISMATCH', arg.offset, `${expr.callee} takes string literals, not ${labelOf(arg)}`);
      }
    }
    return expr;
  }
}

/**
 * Checks a parsed rule against the scope it runs in and returns the checked tree (see ast.ts);
 * throws PolicyError with every problem found, each with its position.
 */
export function checkPolicy(expr: PolicyExpr, scope: PolicyScope, source: string, origin?: PolicyOrigin): PolicyExpr {
  const checker = new Checker(scope, source, origin);
  const checked = checker.condition(expr);
  if (checker.diagnostics.length > 0) throw new PolicyError(checker.diagnostics);
  return checked;
}
