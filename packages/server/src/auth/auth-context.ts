import { createHash, timingSafeEqual } from 'node:crypto';

/** Who is making a request. Sessions, API keys and JWTs fill this in once auth exists. */
export interface AuthContext {
  readonly userId: string | null;
  readonly isAdmin: boolean;
}

/** The context of a request with no credentials. */
export const ANONYMOUS: AuthContext = Object.freeze({ userId: null, isAdmin: false });
/** The context the admin token grants. */
export const ADMIN: AuthContext = Object.freeze({ userId: '__admin__', isAdmin: true });

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Compares a presented token with the admin token in constant time: both are hashed first so
 * neither the content nor the length of the secret leaks through timing.
 */
export function isAdminToken(presented: string, adminToken: string | null): boolean {
  if (adminToken === null || adminToken === '') return false;
  return timingSafeEqual(digest(presented), digest(adminToken));
}

/** The bearer token of an `Authorization` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/** Resolves the auth context of a request from its Authorization header. */
export function resolveAuth(authorization: string | undefined, adminToken: string | null): AuthContext {
  const token = bearerToken(authorization);
  if (token !== null && isAdminToken(token, adminToken)) return ADMIN;
  return ANONYMOUS;
}
