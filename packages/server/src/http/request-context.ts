import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors/index.js';
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
    throw new AppError('FORBIDDEN', 'This endpoint requires admin auth (MAST_ADMIN_TOKEN)');
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
  if (auth.apiKeyId !== undefined) throw new AppError('API_KEY_AUTH_FORBIDDEN', 'This endpoint cannot be used with an API key; sign in');
  if (auth.isAdmin) throw new AppError('FORBIDDEN', "The admin token acts for no user; use a user's session");
  if (auth.userId === null || auth.isGuest) throw new AppError('AUTH_REQUIRED', 'Sign in with an account (guests cannot do this)');
  return auth.userId;
}
