import type { FastifyRequest } from 'fastify';
import { httpErrors } from '../errors/index.js';
import type { AuthContext } from '../access/auth-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking; set by the server's onRequest hook before any route runs. */
    auth: AuthContext;
  }
}

/** Throws FORBIDDEN unless the request carries the admin token. */
export function requireAdmin(request: FastifyRequest): void {
  if (!request.auth.isAdmin) {
    throw httpErrors.adminRequired();
  }
}

/** A query-string parameter as a single string (the first, when repeated). */
export function queryParam(request: FastifyRequest, name: string): string | undefined {
  const value = (request.query as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The id of the signed-in user behind a request, for account endpoints (API keys, orgs):
 * anonymous callers and guests get AUTH_REQUIRED, API keys API_KEY_AUTH_FORBIDDEN (a leaked key
 * must not mint more keys or change memberships), the admin token FORBIDDEN (it is no user).
 */
export function requireUser(request: FastifyRequest): string {
  const auth = request.auth;
  if (auth.apiKeyId !== undefined) throw httpErrors.apiKeyNotAllowed();
  if (auth.isAdmin) throw httpErrors.adminActsForNoUser();
  if (auth.userId === null || auth.isGuest) throw httpErrors.accountRequired();
  return auth.userId;
}
