import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthLimits } from '../auth/auth-limits.js';
import { OAUTH_STATE_TTL_MS, OAuthFailure, type OAuthService } from '../auth/oauth-service.js';
import { authErrors, httpErrors } from '../errors/index.js';
import { readCookie } from '../auth/cookies.js';
import { type CookieOptions, setSessionCookie } from './auth-routes.js';
import { limitedBy } from './rate-limit.js';
import { queryParam } from './request-context.js';

const CALLBACK_PATH = '/api/auth/callback';

/** The origin of an http(s) URL, or null. */
function originOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.origin : null;
  } catch {
    return null;
  }
}

/**
 * OAuth / OIDC sign-in at Pylon's paths. The app's callback URLs must be on a trusted origin
 * (MAST_TRUSTED_ORIGINS, listed one by one: `*` is never enough for a redirect) or this
 * server's own; the state is bound to the browser by an HttpOnly cookie scoped to the callback
 * path. Success redirects to the callback with the session cookie set; a failure after the
 * state was accepted redirects to the error callback with `oauth_error` and
 * `oauth_error_message`.
 */
export function registerOAuthRoutes(
  app: FastifyInstance,
  deps: { oauth: OAuthService; cookie: CookieOptions; publicUrl: string | null; rateLimit: number; limits: AuthLimits },
): void {
  const { oauth, cookie } = deps;
  const bindingCookie = `${cookie.name}_oauth`;
  const secure = cookie.secure ? '; Secure' : '';
  const limit = { max: deps.rateLimit, windowMs: 60_000 };
  const limited = limitedBy((address) => deps.limits.hit([{ bucket: 'oauth', subject: address, limit }]));
  const ownOrigin = (request: FastifyRequest): string => (deps.publicUrl ? new URL(deps.publicUrl).origin : `${request.protocol}://${request.host}`);

  const trusted = (request: FastifyRequest, url: string, field: string): string => {
    const origin = originOf(url);
    if (origin === null) throw httpErrors.redirectNotUrl(field);
    if (origin !== ownOrigin(request) && !cookie.trustedOrigins.includes(origin)) {
      throw httpErrors.redirectUntrusted(field, origin);
    }
    return url;
  };

  const base = (request: FastifyRequest): string => (deps.publicUrl ? deps.publicUrl.replace(/\/+$/, '') : ownOrigin(request));

  app.get('/api/auth/providers', { preHandler: limited }, async () => oauth.names().map((provider) => ({ provider, auth_url: `/api/auth/login/${provider}` })));

  app.get<{ Params: { provider: string } }>('/api/auth/login/:provider', { preHandler: limited }, async (request, reply) => {
    const provider = request.params.provider;
    if (!oauth.names().includes(provider)) throw authErrors.providerNotFound(provider);
    const callback = queryParam(request, 'callback');
    if (!callback) throw httpErrors.missingCallback();
    const errorCallback = queryParam(request, 'error_callback');
    const start = await oauth.begin(provider, {
      callbackUrl: trusted(request, callback, 'callback'),
      errorCallbackUrl: errorCallback ? trusted(request, errorCallback, 'error_callback') : null,
      redirectUri: oauth.redirectUri(provider, base(request)),
    });
    reply.header('cache-control', 'no-store');
    reply.header('set-cookie', `${bindingCookie}=${start.browserToken}; Path=${CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=${OAUTH_STATE_TTL_MS / 1000}${secure}`);
    if (queryParam(request, 'redirect') === '1') return reply.code(302).header('location', start.redirect).send();
    return { redirect: start.redirect, state: start.state };
  });

  app.get<{ Params: { provider: string } }>('/api/auth/callback/:provider', { preHandler: limited }, async (request, reply: FastifyReply) => {
    const provider = request.params.provider;
    // The provider's query on the redirect URI it was given, as openid-client checks it.
    const currentUrl = new URL(oauth.redirectUri(provider, base(request)));
    currentUrl.search = new URL(request.url, 'http://x').search;
    reply.header('cache-control', 'no-store');
    reply.header('set-cookie', `${bindingCookie}=; Path=${CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age=0${secure}`);
    try {
      const done = await oauth.complete(provider, { currentUrl, browserToken: readCookie(request.headers.cookie, bindingCookie), caller: request.auth });
      setSessionCookie(reply, cookie, done.issued);
      return reply.code(302).header('location', done.callbackUrl).send();
    } catch (err) {
      if (!(err instanceof OAuthFailure)) throw err;
      const target = new URL(err.errorCallbackUrl);
      target.searchParams.set('oauth_error', err.error.code);
      target.searchParams.set('oauth_error_message', err.error.message.slice(0, 200));
      return reply.code(302).header('location', target.href).send();
    }
  });
}
