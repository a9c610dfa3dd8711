import type { FilterNode } from '@mast/schema';
import type { AuthContext } from '../access/auth-context.js';
import type { Row } from '../store/index.js';

/**
 * The read-permission hook live queries apply to every row they would send. Policies plug in
 * here. Subscribers whose `scopeOf` keys are equal must see exactly the same rows of that
 * entity: that is what lets identical subscriptions share one evaluation and one encoded diff.
 */
export interface LiveAccess {
  /** Whether `auth` may see `row` of `entity` (the full row after the change). */
  canRead(auth: AuthContext, entity: string, row: Row): boolean;
  /** The visibility class of `auth` on `entity`; equal keys see equal rows. */
  scopeOf(auth: AuthContext, entity: string): string;
  /**
   * Optional: the rows `auth` may read as a store filter (`true`: all), so a window is fetched
   * with one query instead of reading past hidden rows. Must agree with `canRead`; may throw
   * (POLICY_DENIED) when `auth` can read no row of the entity, which fails the subscription.
   */
  readFilter?(auth: AuthContext, entity: string): FilterNode | true;
  /**
   * Optional: the entities whose rows decide what `auth` may read of `entity` (a read rule's
   * `exists(…)`). A committed change to one of them re-evaluates the windows that depend on it.
   */
  readDependencies?(auth: AuthContext, entity: string): readonly string[];
}

/** The scope of one identity: always safe, shares only between sockets of the same user. */
export function identityScope(auth: AuthContext): string {
  if (auth.isAdmin) return 'admin';
  return auth.userId === null ? 'anon' : `user:${auth.userId}${auth.tenantId === null ? '' : `@${auth.tenantId}#${auth.orgRole ?? ''}`}`;
}

/** Everyone may read everything (no policies yet), so every subscriber shares one scope. */
export const OPEN_ACCESS: LiveAccess = Object.freeze({
  canRead: () => true,
  scopeOf: () => '*',
});

/** A hook from a `canRead` function alone, scoped per identity (the safe default for policies). */
export function accessFrom(canRead: LiveAccess['canRead']): LiveAccess {
  return { canRead, scopeOf: identityScope };
}
