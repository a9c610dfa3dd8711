import { parseFieldType, parseRoomPattern, type AppSchema, type FieldKind, type FilterNode, type ManifestPolicy, type RelatedLookup, type RoomPattern } from '@mast/schema';
import { relatedEntities, type PolicyExpr } from './ast.js';
import { checkPolicy } from './checker.js';
import { compileToFilter, evaluatePolicy } from './compile-to-filter.js';
import { parsePolicy } from './parser.js';
import type { PolicyAuth, PolicyRow } from './policy-auth.js';
import { PolicyError, type PolicyDiagnostic, type PolicyOrigin, type RuleKey } from './policy-error.js';
import { actionScope, entityScope, roomScope, type PolicyOperation, type PolicyScope } from './policy-scope.js';

/**
 * Which manifest key guards which operation (first non-empty key wins), as in Pylon. Action
 * policies only ever use `allow`.
 */
export const RULE_CHAINS: Readonly<Record<PolicyOperation, readonly RuleKey[]>> = Object.freeze({
  read: ['allowRead', 'allow'],
  insert: ['allowInsert', 'allowWrite', 'allow'],
  update: ['allowUpdate', 'allowWrite', 'allow'],
  delete: ['allowDelete', 'allowWrite', 'allow'],
});

const OPERATIONS: readonly PolicyOperation[] = ['read', 'insert', 'update', 'delete'];
const RULE_KEYS: readonly RuleKey[] = ['allow', 'allowRead', 'allowInsert', 'allowUpdate', 'allowDelete', 'allowWrite', 'allowJoin'];

/** One rule in force: the checked expression, and where it came from. */
export interface CompiledRule {
  readonly policy: string;
  readonly rule: RuleKey;
  readonly source: string;
  readonly expr: PolicyExpr;
}

/** The outcome of a check, with the reason (for logs and "why was I denied" tooling). */
export type PolicyDecision =
  | { readonly allowed: true; readonly reason: 'admin' | 'rules' }
  | { readonly allowed: false; readonly reason: 'no-rule' }
  | { readonly allowed: false; readonly reason: 'denied'; readonly policy: string; readonly rule: RuleKey; readonly source: string };

/** The compiled access rules of an app, and the decisions every data path asks of them. */
export interface PolicySet {
  /** The rules in force for an operation on an entity, in manifest order (empty: denied). */
  rules(entity: string, operation: PolicyOperation): readonly CompiledRule[];
  /** The full decision for one row; update rules see `input` as the incoming change. */
  decide(entity: string, operation: PolicyOperation, auth: PolicyAuth, data: PolicyRow, input?: PolicyRow): PolicyDecision;
  /** Whether the caller may read this row. */
  canRead(entity: string, auth: PolicyAuth, row: PolicyRow): boolean;
  /** The rows the caller may read, as a filter for the store (`true`: all, `false`: none). */
  readFilter(entity: string, auth: PolicyAuth): FilterNode | boolean;
  /** Whether the caller may insert this row (it is both `data` and `input`). */
  canInsert(entity: string, auth: PolicyAuth, row: PolicyRow): boolean;
  /**
   * Whether the caller may change `before` into `after`: the update rule must hold on both rows,
   * so nobody can move a row out of their own reach (reassign its owner). `input` defaults to
   * `after`.
   */
  canUpdate(entity: string, auth: PolicyAuth, before: PolicyRow, after: PolicyRow, input?: PolicyRow): boolean;
  /** Whether the caller may delete this row. */
  canDelete(entity: string, auth: PolicyAuth, row: PolicyRow): boolean;
  /** Whether the caller may run a manifest action with this input (action policies' `allow`). */
  canRunAction(action: string, auth: PolicyAuth, input: PolicyRow): boolean;
  /**
   * The entities whose rows the rules of an operation read through `exists`: a change to one
   * of them can change which rows of `entity` a caller may read (live queries watch them).
   */
  relatedEntities(entity: string, operation: PolicyOperation): readonly string[];
  /** The room rules, in manifest order. */
  readonly roomRules: readonly RoomRule[];
  /**
   * Whether the caller may join `room`: every room rule whose pattern matches the name must
   * allow it (admins always may). Null when no pattern matches: the manifest does not guard
   * that room.
   */
  decideJoin(room: string, auth: PolicyAuth): PolicyDecision | null;
}

/** A room rule: the rooms it guards, by name pattern, and its `allowJoin`. */
export interface RoomRule extends CompiledRule {
  readonly pattern: RoomPattern;
  /** The entities the rule reads through `exists` (a change to one can take a member's right away). */
  readonly reads: readonly string[];
}

/** Options of `compilePolicies`. */
export interface PolicyOptions {
  /**
   * Answers `exists` for single-row decisions (canRead, canInsert, …): whether a row of an
   * entity matches a filter, synchronously. Without it, deciding a row under a rule with
   * `exists` throws; `readFilter` never needs it (the store runs the EXISTS subquery).
   */
  readonly lookup?: RelatedLookup;
}

function ruleText(policy: ManifestPolicy, key: RuleKey): string | null {
  const text: unknown = policy[key];
  return typeof text === 'string' && text !== '' ? text : null;
}

class Compiler {
  readonly diagnostics: PolicyDiagnostic[] = [];
  private readonly seen = new Set<string>();

  private collect(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      for (const d of error.diagnostics) {
        // One bad `allow` shared by four operations is reported once (for the first of them).
        const key = `${d.path}\n${d.code}\n${d.line}:${d.column}`;
        if (!this.seen.has(key)) this.diagnostics.push(d);
        this.seen.add(key);
      }
    }
  }

  /** Parses every non-empty rule (even one no operation reaches) so no typo goes unnoticed. */
  parseAll(policy: ManifestPolicy, index: number): Map<RuleKey, PolicyExpr> {
    const parsed = new Map<RuleKey, PolicyExpr>();
    for (const key of RULE_KEYS) {
      const text = ruleText(policy, key);
      if (text !== null)
        this.collect(() => parsed.set(key, parsePolicy(text, this.origin(policy, index, key, policy.entity ?? (policy.action ? `action ${policy.action}` : undefined)))));
    }
    return parsed;
  }

  origin(policy: ManifestPolicy, index: number, rule: RuleKey, target: string | null | undefined): PolicyOrigin {
    const origin = { policy: policy.name, rule, path: `policies[${index}] ${policy.name}.${rule}` };
    return target === null || target === undefined ? origin : { ...origin, target };
  }

  check(policy: ManifestPolicy, index: number, key: RuleKey, expr: PolicyExpr, scope: PolicyScope): CompiledRule | null {
    let rule: CompiledRule | null = null;
    const source = ruleText(policy, key)!;
    this.collect(() => {
      rule = Object.freeze({ policy: policy.name, rule: key, source, expr: checkPolicy(expr, scope, source, this.origin(policy, index, key, scope.target)) });
    });
    return rule;
  }
}

function actionInputs(schema: AppSchema, action: string): ReadonlyMap<string, FieldKind> {
  const declared = schema.manifest.actions?.find((a) => a.name === action);
  const inputs = new Map<string, FieldKind>();
  for (const field of declared?.input ?? []) {
    const parsed = parseFieldType(field.type);
    if (parsed) inputs.set(field.name, parsed.kind);
  }
  return inputs;
}

/**
 * Compiles and checks every policy of a validated schema. Throws PolicyError listing every
 * problem (syntax, unknown fields, types) with its policy, key and column: a rule that does
 * not compile stops start-up instead of silently allowing or denying.
 */
export function compilePolicies(schema: AppSchema, options: PolicyOptions = {}): PolicySet {
  const compiler = new Compiler();
  const entityRules = new Map<string, Record<PolicyOperation, CompiledRule[]>>();
  for (const entity of schema.entities) entityRules.set(entity.name, { read: [], insert: [], update: [], delete: [] });
  const actionRules = new Map<string, CompiledRule[]>();
  const roomRules: RoomRule[] = [];

  (schema.manifest.policies ?? []).forEach((policy, index) => {
    const parsed = compiler.parseAll(policy, index);
    if (policy.room !== undefined && policy.room !== null) {
      const pattern = parseRoomPattern(policy.room);
      const expr = parsed.get('allowJoin');
      if (typeof pattern === 'string') throw new Error(`policy ${policy.name}: room pattern ${policy.room}: ${pattern} (validate the manifest first)`);
      if (expr === undefined) return;
      const rule = compiler.check(policy, index, 'allowJoin', expr, roomScope(pattern.source, pattern.params, schema));
      if (rule) roomRules.push(Object.freeze({ ...rule, pattern, reads: Object.freeze([...relatedEntities(rule.expr)]) }));
      return;
    }
    if (policy.entity !== undefined && policy.entity !== null) {
      const entity = schema.entitiesByName.get(policy.entity);
      const rules = entityRules.get(policy.entity);
      if (!entity || !rules) throw new Error(`policy ${policy.name}: entity ${policy.entity} is not in the schema (validate the manifest first)`);
      for (const operation of OPERATIONS) {
        const key = RULE_CHAINS[operation].find((k) => ruleText(policy, k) !== null);
        const expr = key === undefined ? undefined : parsed.get(key);
        if (key === undefined || expr === undefined) continue;
        const rule = compiler.check(policy, index, key, expr, entityScope(entity, operation, schema));
        if (rule) rules[operation].push(rule);
      }
    }
    if (policy.action !== undefined && policy.action !== null) {
      const expr = parsed.get('allow');
      if (expr === undefined) return;
      const rule = compiler.check(policy, index, 'allow', expr, actionScope(policy.action, actionInputs(schema, policy.action), schema));
      if (rule) actionRules.set(policy.action, [...(actionRules.get(policy.action) ?? []), rule]);
    }
  });
  if (compiler.diagnostics.length > 0) throw new PolicyError(compiler.diagnostics);
  return new CompiledPolicySet(entityRules, actionRules, Object.freeze(roomRules), options.lookup);
}

function judge(rules: readonly CompiledRule[], auth: PolicyAuth, data: PolicyRow | null, input: PolicyRow | null, lookup: RelatedLookup | undefined): PolicyDecision {
  if (auth.isAdmin) return { allowed: true, reason: 'admin' };
  if (rules.length === 0) return { allowed: false, reason: 'no-rule' };
  for (const rule of rules) {
    if (!evaluatePolicy(rule.expr, { auth, data, input, ...(lookup ? { lookup } : {}) })) {
      return { allowed: false, reason: 'denied', policy: rule.policy, rule: rule.rule, source: rule.source };
    }
  }
  return { allowed: true, reason: 'rules' };
}

class CompiledPolicySet implements PolicySet {
  constructor(
    private readonly entities: ReadonlyMap<string, Readonly<Record<PolicyOperation, readonly CompiledRule[]>>>,
    private readonly actions: ReadonlyMap<string, readonly CompiledRule[]>,
    readonly roomRules: readonly RoomRule[],
    private readonly lookup: RelatedLookup | undefined,
  ) {}

  decideJoin(room: string, auth: PolicyAuth): PolicyDecision | null {
    let matched = false;
    for (const rule of this.roomRules) {
      const values = rule.pattern.match(room);
      if (values === null) continue;
      matched = true;
      // Each rule sees its own pattern's placeholders, so the rules are judged one by one.
      const decision = judge([rule], auth, null, values, this.lookup);
      if (!decision.allowed || decision.reason === 'admin') return decision;
    }
    return matched ? { allowed: true, reason: 'rules' } : null;
  }

  relatedEntities(entity: string, operation: PolicyOperation): readonly string[] {
    const found = new Set<string>();
    for (const rule of this.rules(entity, operation)) relatedEntities(rule.expr, found);
    return [...found];
  }

  rules(entity: string, operation: PolicyOperation): readonly CompiledRule[] {
    const rules = this.entities.get(entity);
    if (!rules) throw new Error(`unknown entity ${entity}`);
    return rules[operation];
  }

  decide(entity: string, operation: PolicyOperation, auth: PolicyAuth, data: PolicyRow, input?: PolicyRow): PolicyDecision {
    const hasInput = operation === 'insert' || operation === 'update';
    return judge(this.rules(entity, operation), auth, data, hasInput ? (input ?? data) : null, this.lookup);
  }

  canRead(entity: string, auth: PolicyAuth, row: PolicyRow): boolean {
    return this.decide(entity, 'read', auth, row).allowed;
  }

  readFilter(entity: string, auth: PolicyAuth): FilterNode | boolean {
    const rules = this.rules(entity, 'read');
    if (auth.isAdmin) return true;
    if (rules.length === 0) return false;
    const parts: FilterNode[] = [];
    for (const rule of rules) {
      const filter = compileToFilter(rule.expr, auth);
      if (filter === false) return false;
      if (filter !== true) parts.push(filter);
    }
    if (parts.length === 0) return true;
    return parts.length === 1 ? parts[0]! : Object.freeze({ kind: 'and', items: Object.freeze(parts) });
  }

  canInsert(entity: string, auth: PolicyAuth, row: PolicyRow): boolean {
    return this.decide(entity, 'insert', auth, row, row).allowed;
  }

  canUpdate(entity: string, auth: PolicyAuth, before: PolicyRow, after: PolicyRow, input: PolicyRow = after): boolean {
    return this.decide(entity, 'update', auth, before, input).allowed && this.decide(entity, 'update', auth, after, input).allowed;
  }

  canDelete(entity: string, auth: PolicyAuth, row: PolicyRow): boolean {
    return this.decide(entity, 'delete', auth, row).allowed;
  }

  canRunAction(action: string, auth: PolicyAuth, input: PolicyRow): boolean {
    return judge(this.actions.get(action) ?? [], auth, null, input, this.lookup).allowed;
  }
}
