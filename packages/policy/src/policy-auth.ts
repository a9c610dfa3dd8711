/** Who is asking, as policies see it (`auth.*`); the server's AuthContext has this shape. */
export interface PolicyAuth {
  readonly userId: string | null;
  readonly isAdmin: boolean;
  readonly isGuest: boolean;
  readonly roles: readonly string[];
  readonly tenantId: string | null;
  /** The caller's role (owner, admin, member) in the selected org `tenantId`; null without one. */
  readonly orgRole: string | null;
}

/** The canonical `auth` properties. */
export type AuthProperty = keyof PolicyAuth;

/** A row or an incoming change, as domain values keyed by field name. */
export type PolicyRow = Readonly<Record<string, unknown>>;

/** Every spelling of an `auth` property (Pylon accepts snake_case too) → the canonical name. */
export const AUTH_ALIASES: ReadonlyMap<string, AuthProperty> = new Map<string, AuthProperty>([
  ['userId', 'userId'],
  ['user_id', 'userId'],
  ['isAdmin', 'isAdmin'],
  ['is_admin', 'isAdmin'],
  ['isGuest', 'isGuest'],
  ['is_guest', 'isGuest'],
  ['roles', 'roles'],
  ['tenantId', 'tenantId'],
  ['tenant_id', 'tenantId'],
  ['orgRole', 'orgRole'],
  ['org_role', 'orgRole'],
]);

/** The functions the language has; both ask about `auth.roles` and are true for admins. */
export type PolicyFunction = 'hasRole' | 'hasAnyRole';

/** `auth.hasRole(r)` / `auth.hasAnyRole(...rs)`, with Pylon's rule that an admin has every role. */
export function hasAnyRole(auth: PolicyAuth, roles: readonly string[]): boolean {
  return auth.isAdmin || roles.some((r) => auth.roles.includes(r));
}
