import { compileToFilter, type PolicyOperation } from '@mast/policy';
import { checkJsonLimits } from '@mast/protocol';
import { bindOuterRow, closest, type FilterNode, type RelatedNode } from '@mast/schema';
import type { AuthContext } from './auth-context.js';
import type { SchemaRef } from './schema-ref.js';
import { accessErrors, errors } from '../errors/index.js';
import type { Store } from '../store/index.js';

const OPERATIONS: ReadonlySet<string> = new Set<PolicyOperation>(['read', 'insert', 'update', 'delete']);

/** The answer to "why may (or may not) this caller do this to this row". */
export interface PolicyExplanation {
  readonly allowed: boolean;
  /** `admin` (bypass), `rules` (every rule held), `no-rule` (default deny), `denied` (a rule failed). */
  readonly reason: 'admin' | 'rules' | 'no-rule' | 'denied';
  /** With `denied`: the policy and rule key that denied, and its expression. */
  readonly policy?: string;
  readonly rule?: string;
  readonly expression?: string;
  readonly entity: string;
  readonly operation: PolicyOperation;
  /** The values the rules saw: the caller, the row, and the incoming change when there is one. */
  readonly saw: { readonly auth: Record<string, unknown>; readonly data: Record<string, unknown>; readonly input?: Record<string, unknown> };
  /**
   * For each `exists(…)` of the rules in force (outermost ones), the related row that made it
   * hold, or null when no row matched: the rows that decided.
   */
  readonly related?: ReadonlyArray<{ readonly policy: string; readonly rule: string; readonly entity: string; readonly row: Record<string, unknown> | null }>;
}

/** The outermost RelatedNodes of a filter (those inside one are part of its lookup). */
function outermostRelated(filter: FilterNode, into: RelatedNode[] = []): RelatedNode[] {
  if (filter.kind === 'and' || filter.kind === 'or') for (const item of filter.items) outermostRelated(item, into);
  else if (filter.kind === 'not') outermostRelated(filter.item, into);
  else if (filter.kind === 'related') into.push(filter);
  return into;
}

function object(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw accessErrors.explainNotObject(name);
  return value as Record<string, unknown>;
}

const BODY_KEYS = ['entity', 'operation', 'id', 'data', 'input', 'auth'];
const AUTH_KEYS = ['user_id', 'roles', 'tenant_id', 'org_role', 'is_guest'];
/** Keys a caller may reach for, and where that value goes. */
const KEY_HINTS: Readonly<Record<string, string>> = {
  user: 'auth.user_id',
  user_id: 'auth.user_id',
  userId: 'auth.user_id',
  roles: 'auth.roles',
  op: 'operation',
  action: 'operation',
  row: 'data',
  tenantId: 'auth.tenant_id',
  orgRole: 'auth.org_role',
  isGuest: 'auth.is_guest',
};

/**
 * Refuses a key the request does not have: a misspelled key would otherwise be ignored and the
 * answer would explain another question (an anonymous read, say).
 */
function refuseUnknownKeys(value: Record<string, unknown>, known: readonly string[], where: string, shape: string): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    const hint = KEY_HINTS[key] ?? (near === undefined || where === '' ? near : `${where}.${near}`);
    const name = where === '' ? key : `${where}.${key}`;
    throw accessErrors.explainUnknownKey(name, hint, shape);
  }
}

const BODY_SHAPE = '{entity, operation?, id? | data?, input?, auth?: {user_id, roles?, tenant_id?, org_role?, is_guest?}}';

/** The caller to explain a decision for: `{user_id, roles?, tenant_id?, org_role?, is_guest?}`, or null for anonymous. */
function subject(value: unknown): AuthContext {
  if (value === null || value === undefined) return { userId: null, isAdmin: false, isGuest: false, roles: [], tenantId: null, orgRole: null };
  const a = object(value, 'auth');
  refuseUnknownKeys(a, AUTH_KEYS, 'auth', BODY_SHAPE);
  const roles = a.roles ?? [];
  if (a.user_id !== null && typeof a.user_id !== 'string') throw accessErrors.explainUserId();
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw accessErrors.explainRoles();
  for (const key of ['tenant_id', 'org_role']) {
    if (a[key] !== undefined && a[key] !== null && typeof a[key] !== 'string') throw accessErrors.explainAuthKey(key);
  }
  return {
    userId: a.user_id as string | null,
    isAdmin: false,
    isGuest: a.is_guest === true,
    roles,
    tenantId: (a.tenant_id as string | null | undefined) ?? null,
    orgRole: (a.org_role as string | null | undefined) ?? null,
  };
}

/**
 * Explains one access decision, for `POST /api/policy/explain` and `mast policy check
 * --explain`. The request is `{entity, operation?, id? | data?, input?, auth?}`: the row is read
 * from the store by `id` (NOT_FOUND when there is none) or given as `data`; the decision is the
 * one every data path gets from the same compiled rules.
 */
export async function explainPolicy(deps: { readonly schema: SchemaRef; readonly store: Store }, request: unknown): Promise<PolicyExplanation> {
  const body = object(request, 'body');
  refuseUnknownKeys(body, BODY_KEYS, '', BODY_SHAPE);
  // The CLI hands its input here without the HTTP body's bound; the rules recurse into data.
  const violation = checkJsonLimits(body);
  if (violation !== null) throw errors.jsonTooDeep('The request is refused', violation);
  if (typeof body.entity !== 'string') throw accessErrors.explainEntityRequired();
  const entity = deps.schema.entity(body.entity);
  const operation = body.operation ?? 'read';
  if (typeof operation !== 'string' || !OPERATIONS.has(operation)) {
    throw accessErrors.explainOperation();
  }
  const auth = subject(body.auth);
  let row: Record<string, unknown>;
  if (typeof body.id === 'string') {
    const found = await deps.store.read((tx) => tx.get(entity.name, body.id as string));
    if (!found) throw errors.rowNotFound(entity.name, body.id);
    row = found;
  } else {
    row = object(body.data ?? {}, 'data');
  }
  const input = body.input === undefined ? undefined : object(body.input, 'input');
  const data = { id: '', ...row, ...(typeof body.id === 'string' ? { id: body.id } : {}) };
  const decision = deps.schema.access.explain(auth, entity.name, operation as PolicyOperation, data, input);
  const related: Array<{ policy: string; rule: string; entity: string; row: Record<string, unknown> | null }> = [];
  const hasInput = operation === 'insert' || operation === 'update';
  for (const rule of deps.schema.access.rules(entity.name, operation as PolicyOperation)) {
    const filter = compileToFilter(rule.expr, auth, hasInput ? (input ?? data) : undefined);
    if (typeof filter === 'boolean') continue;
    for (const node of outermostRelated(filter)) {
      const where = bindOuterRow(node.where, data);
      const [found] = await deps.store.read((tx) => tx.find(node.entity, { where, limit: 1 }));
      related.push({ policy: rule.policy, rule: rule.rule, entity: node.entity, row: found ?? null });
    }
  }
  return {
    allowed: decision.allowed,
    reason: decision.reason,
    ...(decision.reason === 'denied' ? { policy: decision.policy, rule: decision.rule, expression: decision.source } : {}),
    entity: entity.name,
    operation: operation as PolicyOperation,
    saw: { auth: { user_id: auth.userId, roles: auth.roles, tenant_id: auth.tenantId, org_role: auth.orgRole, is_guest: auth.isGuest }, data: row, ...(input ? { input } : {}) },
    ...(related.length > 0 ? { related } : {}),
  };
}
