import type { FastifyInstance } from 'fastify';
import { type ApiKeyService, apiKeyToWire, type NewApiKey } from '../auth/api-key-service.js';
import type { AuthLimits } from '../auth/auth-limits.js';
import { authErrors } from '../errors/index.js';
import { limitedBy } from './rate-limit.js';
import { requireUser } from './request-context.js';
import type { Clock } from '../clock/clock.js';

const MAX_LIFETIME_MS = 10 * 366 * 86_400_000;

/**
 * Reads `{name?, scopes?, expires_at?, expires_in?}`: scopes as an array or Pylon's
 * comma-separated string; expiry as an ISO-8601 time, Pylon's unix seconds, or seconds from now.
 */
function parseNewKey(body: unknown, now: number): NewApiKey {
  const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  if (b.name !== undefined && typeof b.name !== 'string') throw authErrors.keyNameNotString();
  let scopes: string[] | undefined;
  if (typeof b.scopes === 'string')
    scopes = b.scopes
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  else if (Array.isArray(b.scopes) && b.scopes.every((s) => typeof s === 'string')) scopes = b.scopes as string[];
  else if (b.scopes !== undefined) throw authErrors.keyScopesInvalid();
  if (scopes !== undefined && scopes.length === 0) throw authErrors.keyScopesEmpty();
  let expiresAt: number | null = null;
  if (b.expires_at !== undefined && b.expires_in !== undefined) throw authErrors.keyExpiryTwice();
  if (typeof b.expires_at === 'string') expiresAt = Date.parse(b.expires_at);
  else if (typeof b.expires_at === 'number') expiresAt = b.expires_at * 1000;
  else if (typeof b.expires_in === 'number' && Number.isSafeInteger(b.expires_in)) expiresAt = now + b.expires_in * 1000;
  else if (b.expires_at !== undefined && b.expires_at !== null) throw authErrors.keyExpiresAtInvalid();
  else if (b.expires_in !== undefined) throw authErrors.keyExpiresInInvalid();
  if (expiresAt !== null && (!Number.isFinite(expiresAt) || expiresAt - now > MAX_LIFETIME_MS)) {
    throw authErrors.keyExpiryOutOfRange(b.expires_in !== undefined ? 'expires_in' : 'expires_at');
  }
  return { ...(b.name !== undefined ? { name: b.name as string } : {}), ...(scopes !== undefined ? { scopes } : {}), expiresAt };
}

/**
 * API keys at Pylon's paths. Only a signed-in user's session manages keys (an API key cannot
 * mint or revoke keys); another user's key id is 404, as an unknown one is.
 */
export function registerApiKeyRoutes(app: FastifyInstance, deps: { apiKeys: ApiKeyService; rateLimit: number; limits: AuthLimits; clock: Clock }): void {
  const limit = { max: deps.rateLimit, windowMs: 60_000 };
  const limited = limitedBy((address) => deps.limits.hit([{ bucket: 'api-keys', subject: address, limit }]));

  app.post('/api/auth/api-keys', { preHandler: limited }, async (request, reply) => {
    const userId = requireUser(request);
    const now = deps.clock.now();
    const { key, record } = await deps.apiKeys.create(userId, parseNewKey(request.body, now), now);
    return reply.code(201).send({ key, ...apiKeyToWire(record) });
  });

  app.get('/api/auth/api-keys', { preHandler: limited }, async (request) => {
    const userId = requireUser(request);
    return (await deps.apiKeys.list(userId)).map(apiKeyToWire);
  });

  app.delete<{ Params: { id: string } }>('/api/auth/api-keys/:id', { preHandler: limited }, async (request) => {
    const userId = requireUser(request);
    if (!(await deps.apiKeys.revoke(userId, request.params.id))) throw authErrors.apiKeyNotFound();
    return { revoked: true };
  });
}
