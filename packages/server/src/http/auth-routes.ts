import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authToWire, bearerToken, type AuthContext } from '../access/auth-context.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { IssuedSession, SessionService } from '../auth/session-service.js';
import { readCookie } from '../auth/cookies.js';
import { authErrors, httpErrors } from '../errors/index.js';
import { requireAdmin } from './request-context.js';

/** How the session cookie is named and sent. */
export interface CookieOptions {
  readonly name: string;
  /** Sent only over HTTPS (off in dev mode, where localhost is plain HTTP). */
  readonly secure: boolean;
  /** Origins allowed to send state-changing requests that authenticate with the cookie. */
  readonly trustedOrigins: readonly string[];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Resolves the caller of an HTTP request: the bearer token, else the session cookie. A request
 * that changes state with only the cookie must come from a trusted origin (or carry no Origin
 * or Referer at all, as server-to-server calls do): that is the CSRF defence.
 */
export function requestAuthenticator(authenticator: Authenticator, cookie: CookieOptions): (request: FastifyRequest) => Promise<AuthContext> {
  const sessions = authenticator.sessions;
  return async (request) => {
    const bearer = bearerToken(request.headers.authorization);
    if (bearer !== null) return authenticator.resolve(bearer);
    const fromCookie = readCookie(request.headers.cookie, cookie.name);
    if (fromCookie === null) return sessions.resolve(null);
    if (!SAFE_METHODS.has(request.method)) {
      const origin = request.headers.origin ?? originOf(request.headers.referer);
      if (origin !== undefined && !cookie.trustedOrigins.includes('*') && !cookie.trustedOrigins.includes(origin) && origin !== `${request.protocol}://${request.host}`) {
        throw httpErrors.csrfRejected(origin);
      }
    }
    return sessions.resolve(fromCookie);
  };
}

function originOf(referer: string | undefined): string | undefined {
  if (!referer) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    return undefined;
  }
}

/** Sets the session cookie of a newly issued session. */
export function setSessionCookie(reply: FastifyReply, cookie: CookieOptions, issued: IssuedSession): void {
  // The session was issued just now: it lives from its creation to its expiry.
  const maxAge = Math.max(0, Math.floor((issued.session.expiresAt - issued.session.createdAt) / 1000));
  reply.header('set-cookie', `${cookie.name}=${issued.token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${cookie.secure ? '; Secure' : ''}`);
}

function clearSessionCookie(reply: FastifyReply, cookie: CookieOptions): void {
  reply.header('set-cookie', `${cookie.name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${cookie.secure ? '; Secure' : ''}`);
}

/** `{token, user_id, guest?, expires_at}`: the answer of every request that issues a session. */
export function sessionBody(issued: IssuedSession): Record<string, unknown> {
  return {
    token: issued.token,
    user_id: issued.session.userId,
    ...(issued.session.isGuest ? { guest: true } : {}),
    expires_at: new Date(issued.session.expiresAt).toISOString(),
  };
}

/** Reads the admin's mint request: `{user_id, roles?, tenant_id?, expires_in?}`. */
function parseMint(body: unknown): { userId: string; roles?: string[]; tenantId?: string | null; expiresIn?: number } {
  const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  if (typeof b.user_id !== 'string') throw authErrors.mintUserIdRequired();
  if (b.roles !== undefined && !Array.isArray(b.roles)) throw authErrors.mintRolesInvalid();
  if (b.tenant_id !== undefined && b.tenant_id !== null && typeof b.tenant_id !== 'string') {
    throw authErrors.mintTenantInvalid();
  }
  if (b.expires_in !== undefined && typeof b.expires_in !== 'number') throw authErrors.mintExpiresInInvalid();
  return {
    userId: b.user_id,
    ...(b.roles !== undefined ? { roles: b.roles as string[] } : {}),
    ...(b.tenant_id !== undefined ? { tenantId: b.tenant_id as string | null } : {}),
    ...(b.expires_in !== undefined ? { expiresIn: b.expires_in as number } : {}),
  };
}

/** Sessions at Pylon's paths: mint (admin), guest, me, sign-out. */
export function registerAuthRoutes(
  app: FastifyInstance,
  sessions: SessionService,
  cookie: CookieOptions,
  options: { dev: boolean; limitGuest?: (ip: string) => Promise<void>; profile?: (userId: string) => Promise<Record<string, unknown> | null> },
): void {
  app.post('/api/auth/session', async (request, reply) => {
    if (!options.dev) requireAdmin(request);
    const issued = await sessions.issue(parseMint(request.body));
    if (request.headers.origin) setSessionCookie(reply, cookie, issued);
    return reply.code(201).send(sessionBody(issued));
  });

  app.post('/api/auth/guest', async (request, reply) => {
    await options.limitGuest?.(request.ip);
    const issued = await sessions.issueGuest();
    if (request.headers.origin) setSessionCookie(reply, cookie, issued);
    return reply.code(201).send(sessionBody(issued));
  });

  app.get('/api/auth/me', async (request) => authToWire(request.auth));

  app.get('/api/auth/session', async (request) => ({
    session: authToWire(request.auth),
    user: request.auth.userId !== null && !request.auth.isAdmin && options.profile ? await options.profile(request.auth.userId) : null,
    ...(request.auth.expiresAt !== undefined ? { expires_at: new Date(request.auth.expiresAt).toISOString() } : {}),
  }));

  app.delete('/api/auth/session', async (request, reply) => {
    const hash = request.auth.sessionHash;
    if (request.auth.apiKeyId !== undefined) throw authErrors.apiKeySignOut();
    if (hash === undefined) throw authErrors.signOutNeedsSession();
    await sessions.revoke(hash);
    clearSessionCookie(reply, cookie);
    return { signed_out: true };
  });
}
