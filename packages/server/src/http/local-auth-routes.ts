import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LocalAuth, PasswordReplaced, SignIn } from '../auth/local-auth.js';
import type { DevOutbox } from '../auth/mailer.js';
import { httpErrors } from '../errors/index.js';
import { type CookieOptions, sessionBody, setSessionCookie } from './auth-routes.js';
import { queryParam } from './request-context.js';

/** Answers a sign-in: the session body (plus merged guest rows) and, for browsers, the cookie. */
function signedIn(request: FastifyRequest, reply: FastifyReply, cookie: CookieOptions, result: SignIn, status = 200): FastifyReply {
  if (request.headers.origin) setSessionCookie(reply, cookie, result.issued);
  return reply.code(status).send({ ...sessionBody(result.issued), ...(result.merged > 0 ? { merged_rows: result.merged } : {}) });
}

function replaced(request: FastifyRequest, reply: FastifyReply, cookie: CookieOptions, result: PasswordReplaced, flag: 'changed' | 'reset'): FastifyReply {
  if (request.headers.origin) setSessionCookie(reply, cookie, result.issued);
  return reply.send({ [flag]: true, revoked_sessions: result.revoked, ...sessionBody(result.issued) });
}

/**
 * Local sign-in at Pylon's paths: `/api/auth/password/*`, `/api/auth/magic/*`,
 * `/api/auth/email/*`, and in dev mode without SMTP the outbox at `GET /api/auth/outbox`.
 */
export function registerLocalAuthRoutes(app: FastifyInstance, auth: LocalAuth, cookie: CookieOptions, outbox: DevOutbox | null): void {
  app.post('/api/auth/password/register', async (request, reply) => signedIn(request, reply, cookie, await auth.register(request.auth, request.ip, request.body), 201));

  app.post('/api/auth/password/login', async (request, reply) => signedIn(request, reply, cookie, await auth.login(request.auth, request.ip, request.body)));

  app.post('/api/auth/password/change', async (request, reply) => replaced(request, reply, cookie, await auth.changePassword(request.auth, request.ip, request.body), 'changed'));

  // The token write and the email wait until the answer has left, so they cannot delay it.
  app.post('/api/auth/password/reset/request', async (request, reply) => {
    await auth.requestReset(request.ip, request.body, (work) => reply.raw.once('close', work));
    return { sent: true };
  });

  app.post('/api/auth/password/reset/complete', async (request, reply) => replaced(request, reply, cookie, await auth.completeReset(request.ip, request.body), 'reset'));

  app.post('/api/auth/magic/send', async (request) => ({ sent: true, email: await auth.sendMagicCode(request.ip, request.body) }));

  app.post('/api/auth/magic/verify', async (request, reply) => signedIn(request, reply, cookie, await auth.verifyMagicCode(request.auth, request.ip, request.body)));

  app.post('/api/auth/email/send-verification', async (request) => auth.sendVerification(request.auth, request.ip));

  app.post('/api/auth/email/verify', async (request) => {
    const account = await auth.verifyEmail(request.auth, request.ip, request.body);
    return { verified: true, emailVerified: new Date(account.emailVerifiedAt!).toISOString() };
  });

  app.get('/api/auth/outbox', async (request) => {
    if (!outbox) throw httpErrors.outboxDevOnly();
    const to = queryParam(request, 'to');
    return { messages: outbox.list(to === undefined ? undefined : to.trim().toLowerCase()) };
  });
}
