import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors/index.js';
import type { AuthContext } from '../auth/auth-context.js';

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
