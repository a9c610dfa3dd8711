import { createHash, timingSafeEqual } from 'node:crypto';
import type { PolicyAuth } from '@mast/policy';

/** Who is making a request: what policies see as `auth.*`, and how the request authenticated. */
export interface AuthContext extends PolicyAuth {
  /** Set when the request authenticated with an API key: the key's id and scopes. */
  readonly apiKeyId?: string;
  readonly apiKeyScopes?: readonly string[];
  /** Hash of the session token the request used, when it used one (for sign-out). */
  readonly sessionHash?: string;
  /** When that session expires (ms since the epoch); long-lived sockets re-check it. */
  readonly expiresAt?: number;
}

/** The context of a request with no credentials. */
export const ANONYMOUS: AuthContext = Object.freeze({ userId: null, isAdmin: false, isGuest: false, roles: Object.freeze([]), tenantId: null, orgRole: null });
/** The context the admin token grants. */
export const ADMIN: AuthContext = Object.freeze({ userId: '__admin__', isAdmin: true, isGuest: false, roles: Object.freeze(['admin']), tenantId: null, orgRole: null });

/** Whether `auth` may change data: an API key needs the `write` scope; every other caller may. */
export function canWrite(auth: AuthContext): boolean {
  return auth.apiKeyScopes === undefined || auth.apiKeyScopes.includes('write');
}

/** SHA-256 of a secret, as stored and compared. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Compares a presented token with the admin token in constant time: both are hashed first so
 * neither the content nor the length of the secret leaks through timing.
 */
export function isAdminToken(presented: string, adminToken: string | null): boolean {
  if (adminToken === null || adminToken === '') return false;
  return timingSafeEqual(hashToken(presented), hashToken(adminToken));
}

/** The bearer token of an `Authorization` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/** The auth context in Pylon's wire shape (`GET /api/auth/me`). */
export function authToWire(auth: AuthContext): Record<string, unknown> {
  return {
    user_id: auth.userId,
    is_admin: auth.isAdmin,
    ...(auth.isGuest ? { is_guest: true } : {}),
    roles: auth.roles,
    ...(auth.tenantId !== null ? { tenant_id: auth.tenantId } : {}),
    ...(auth.orgRole !== null ? { org_role: auth.orgRole } : {}),
    ...(auth.apiKeyId !== undefined ? { api_key_id: auth.apiKeyId, api_key_scopes: auth.apiKeyScopes ?? [] } : {}),
  };
}
