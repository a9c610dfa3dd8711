import type { AppSchema, FilterNode, RelatedLookup } from '@mast/schema';
import { compilePolicies, type CompiledRule, type PolicyDecision, type PolicyOperation, type PolicySet, type RoomRule } from '@mast/policy';
import type { AuthContext } from './auth-context.js';
import { accessErrors, type AppError } from '../errors/index.js';
import type { Row } from '../store/index.js';

/**
 * The one place data access is decided: the manifest's policies, compiled at start-up, asked
 * by every path that reads or writes rows (REST, batch, transact, sync, live queries, CRDT rows,
 * functions). Reads of many rows are scoped with `scopeRead`, single rows checked with
 * `canRead`, writes with `checkInsert`/`checkUpdate`/`checkDelete`. Admins pass every check
 * here (callers do not test `isAdmin` themselves); an operation no rule covers is denied.
 */
export class AccessControl {
  readonly #policies: PolicySet;

  /**
   * Compiles the schema's policies; a rule that does not parse or check throws PolicyError.
   * `lookup` answers `exists(…)` when a single row is decided (the store's `rowExists`).
   */
  constructor(schema: AppSchema, lookup?: RelatedLookup) {
    this.#policies = compilePolicies(schema, lookup ? { lookup } : {});
  }

  /**
   * The entities whose rows the read rules of `entity` look at through `exists`: a change to
   * one of them can change which rows of `entity` a caller may read.
   */
  readDependencies(entity: string): readonly string[] {
    return this.#policies.relatedEntities(entity, 'read');
  }

  /**
   * Whether `auth` may join `room` by the manifest's room rules (every rule whose pattern
   * matches must allow it; admins may). Null when no room rule matches the name.
   */
  canJoinRoom(auth: AuthContext, room: string): boolean | null {
    const decision = this.#policies.decideJoin(room, auth);
    return decision === null ? null : decision.allowed;
  }

  /** Whether a change to a row of one of `entities` can change who may join `room`. */
  roomDependsOn(room: string, entities: ReadonlySet<string>): boolean {
    return this.#policies.roomRules.some((rule) => rule.reads.some((e) => entities.has(e)) && rule.pattern.match(room) !== null);
  }

  /** The room rules (`room` + `allowJoin`), in manifest order. */
  roomRules(): readonly RoomRule[] {
    return this.#policies.roomRules;
  }

  /** The entities some room rule reads through `exists`. */
  roomDependencies(): ReadonlySet<string> {
    return new Set(this.#policies.roomRules.flatMap((rule) => rule.reads));
  }

  /** Whether `auth` may see `row`. */
  canRead(auth: AuthContext, entity: string, row: Row): boolean {
    return this.#policies.canRead(entity, auth, row);
  }

  /**
   * The rows `auth` may read as a store filter (`true`: all). Throws POLICY_DENIED when the
   * caller can read no row of the entity at all, so a denied list says so instead of looking empty.
   */
  readFilter(auth: AuthContext, entity: string): FilterNode | true {
    const filter = this.#policies.readFilter(entity, auth);
    if (filter === false) throw denied('read', entity);
    return filter;
  }

  /**
   * Scopes a read: the store filter for `query` as `auth` may run it, i.e. `query` ANDed with
   * the caller's read rule (undefined: every row; an admin's query is left as it is). Throws
   * POLICY_DENIED when the caller may read no row of the entity. Every path that lists rows of
   * an entity (REST, functions' ctx.db, live queries) scopes its query here.
   */
  scopeRead(auth: AuthContext, entity: string, query?: FilterNode): FilterNode | undefined {
    const rule = this.readFilter(auth, entity);
    if (rule === true) return query;
    return query === undefined ? rule : { kind: 'and', items: [query, rule] };
  }

  /** Throws POLICY_DENIED unless `auth` may insert `row`. */
  checkInsert(auth: AuthContext, entity: string, row: Row): void {
    if (!this.#policies.canInsert(entity, auth, row)) throw denied('insert into', entity);
  }

  /** Throws POLICY_DENIED unless the update rule holds on the row before and after the change. */
  checkUpdate(auth: AuthContext, entity: string, before: Row, after: Row, patch: Record<string, unknown>): void {
    if (!this.#policies.canUpdate(entity, auth, before, after, patch)) throw denied('update', entity);
  }

  /** Throws POLICY_DENIED unless `auth` may delete `row`. */
  checkDelete(auth: AuthContext, entity: string, row: Row): void {
    if (!this.#policies.canDelete(entity, auth, row)) throw denied('delete from', entity);
  }

  /** The rules in force for an operation on an entity, in manifest order (none: admin only). */
  rules(entity: string, operation: PolicyOperation): readonly CompiledRule[] {
    return this.#policies.rules(entity, operation);
  }

  /** The full decision for one operation on one row: which policy and rule decided, and how. */
  explain(auth: AuthContext, entity: string, operation: PolicyOperation, row: Row, input?: Record<string, unknown>): PolicyDecision {
    return this.#policies.decide(entity, operation, auth, row, input);
  }

  /**
   * A key that is equal for two callers only when policies give them the same view of every
   * row: identity, tenant, roles and the guest flag all reach policies.
   */
  scopeOf(auth: AuthContext): string {
    if (auth.isAdmin) return 'admin';
    const roles = [...auth.roles].sort().join(',');
    return JSON.stringify([auth.userId, auth.tenantId, auth.orgRole, roles, auth.isGuest]);
  }
}

function denied(action: string, entity: string): AppError {
  return accessErrors.policyDenied(action, entity);
}
