import { ADMIN, ANONYMOUS, type AuthContext, isAdminToken } from '../access/auth-context.js';
import { API_KEY_PREFIX, type ApiKeyService } from './api-key-service.js';
import { looksLikeJwt, type JwtVerifier } from './jwt-verifier.js';
import type { SessionService } from './session-service.js';

/**
 * Resolves any bearer token, on HTTP and WebSocket alike: none is anonymous; the admin token
 * (compared in constant time) is admin; `mast_key_…` is an API key; a JWT, when an issuer is
 * configured, is verified against it; anything else must be a session token. Each kind fails
 * with its own 401 code, never silently anonymous.
 */
export class Authenticator {
  readonly sessions: SessionService;
  readonly #apiKeys: ApiKeyService;
  readonly #jwt: JwtVerifier | null;
  readonly #adminToken: string | null;

  constructor(options: { sessions: SessionService; apiKeys: ApiKeyService; jwt: JwtVerifier | null; adminToken: string | null }) {
    this.sessions = options.sessions;
    this.#apiKeys = options.apiKeys;
    this.#jwt = options.jwt;
    this.#adminToken = options.adminToken;
  }

  resolve(token: string | null): Promise<AuthContext> {
    if (token === null) return Promise.resolve(ANONYMOUS);
    if (isAdminToken(token, this.#adminToken)) return Promise.resolve(ADMIN);
    if (token.startsWith(API_KEY_PREFIX)) return this.#apiKeys.resolve(token);
    if (this.#jwt !== null && looksLikeJwt(token)) return this.#jwt.verify(token);
    return this.sessions.resolve(token);
  }
}
