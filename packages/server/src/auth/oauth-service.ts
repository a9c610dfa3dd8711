import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as oidc from 'openid-client';
import { AppError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { AccountService } from './accounts.js';
import { type AuthContext, hashToken } from './auth-context.js';
import { type OAuthProviderConfig, ProviderClient } from './oauth-providers.js';
import type { IssuedSession, SessionService } from './session-service.js';

/** How long a sign-in may take between the redirect to the provider and the callback. */
export const OAUTH_STATE_TTL_MS = 600_000;

/** A sign-in just started: where to send the browser, and the value of its binding cookie. */
export interface OAuthStart {
  readonly redirect: string;
  readonly state: string;
  /** Goes into a short-lived HttpOnly cookie; the callback must present it (the state is bound to this browser). */
  readonly browserToken: string;
}

/** A finished sign-in. */
export interface OAuthSignIn {
  readonly issued: IssuedSession;
  readonly callbackUrl: string;
  /** Rows a guest owned that moved to the account. */
  readonly merged: number;
}

/** A sign-in that failed after its state was accepted: the error goes to the app's error callback. */
export class OAuthFailure extends Error {
  constructor(
    readonly error: AppError,
    readonly errorCallbackUrl: string,
  ) {
    super(error.message);
    this.name = 'OAuthFailure';
  }
}

function invalidState(): AppError {
  return new AppError('OAUTH_INVALID_STATE', 'The sign-in state is unknown, expired, already used or was started in another browser; start again');
}

/** openid-client's and fetch's errors as catalogue errors: an unreachable provider, or an answer that does not verify. */
function exchangeError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const cause = (err as { cause?: unknown }).cause;
  const network = err instanceof TypeError || cause instanceof TypeError || (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
  if (network) return new AppError('IDP_UNAVAILABLE', 'The sign-in provider cannot be reached', { cause: err });
  if (err instanceof oidc.ResponseBodyError) return new AppError('OAUTH_FAILED', `The provider refused the code (${err.error.slice(0, 64)})`, { cause: err });
  return new AppError('OAUTH_FAILED', `The provider's answer does not verify: ${String((err as Error).message).slice(0, 160)}`, { cause: err });
}

/**
 * OAuth 2 / OpenID Connect sign-in: authorization code with PKCE (S256), a `state` kept hashed
 * in the database for ten minutes and usable once, bound to the browser that started the
 * sign-in by a cookie, and a `nonce` checked in the id_token (whose signature, issuer, audience
 * and expiry openid-client verifies). A provider identity signs in as the account it is linked
 * to; otherwise it is linked by email only when the provider vouches for the email, and a new
 * account is created when no account has that email.
 */
export class OAuthService {
  readonly #providers: ReadonlyMap<string, ProviderClient>;
  readonly #store: Store;
  readonly #accounts: AccountService;
  readonly #sessions: SessionService;

  constructor(deps: { store: Store; accounts: AccountService; sessions: SessionService; providers: readonly OAuthProviderConfig[] }) {
    this.#store = deps.store;
    this.#accounts = deps.accounts;
    this.#sessions = deps.sessions;
    this.#providers = new Map(deps.providers.map((p) => [p.id, new ProviderClient(p)]));
  }

  /** Provider names, sorted. */
  names(): string[] {
    return [...this.#providers.keys()].sort();
  }

  /** The provider's configured redirect URI, or the default one under `base`. */
  redirectUri(providerId: string, base: string): string {
    return this.#provider(providerId).config.redirectUri ?? `${base}/api/auth/callback/${providerId}`;
  }

  /** Starts a sign-in: stores the state and returns the provider's authorization URL. */
  async begin(providerId: string, input: { callbackUrl: string; errorCallbackUrl: string | null; redirectUri: string }, now = Date.now()): Promise<OAuthStart> {
    const provider = this.#provider(providerId);
    const client = await provider.client();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const browserToken = randomBytes(32).toString('base64url');
    await this.#store.oauthStates.put({
      stateHash: hashToken(state).toString('hex'),
      provider: providerId,
      browserHash: hashToken(browserToken).toString('hex'),
      codeVerifier,
      nonce,
      callbackUrl: input.callbackUrl,
      errorCallbackUrl: input.errorCallbackUrl,
      expiresAt: now + OAUTH_STATE_TTL_MS,
    });
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: input.redirectUri,
      scope: provider.config.scopes,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      ...(provider.config.kind === 'oidc' ? { nonce } : {}),
    });
    return { redirect: url.href, state, browserToken };
  }

  /**
   * Finishes a sign-in from the provider's redirect (`currentUrl`: the redirect URI with the
   * provider's query). A bad state throws OAUTH_INVALID_STATE; anything failing after that
   * throws OAuthFailure carrying the app's error callback.
   */
  async complete(providerId: string, input: { currentUrl: URL; browserToken: string | null; caller: AuthContext }, now = Date.now()): Promise<OAuthSignIn> {
    const provider = this.#provider(providerId);
    const state = input.currentUrl.searchParams.get('state');
    if (!state) throw invalidState();
    const record = await this.#store.oauthStates.take(hashToken(state).toString('hex'), now);
    if (!record || record.provider !== providerId || input.browserToken === null) throw invalidState();
    if (!timingSafeEqual(hashToken(input.browserToken), Buffer.from(record.browserHash, 'hex'))) throw invalidState();
    const errorCallbackUrl = record.errorCallbackUrl ?? record.callbackUrl;
    try {
      const refused = input.currentUrl.searchParams.get('error');
      if (refused !== null) throw new AppError('OAUTH_FAILED', `The provider refused the sign-in (${refused.slice(0, 64)})`);
      let identity;
      try {
        const tokens = await oidc.authorizationCodeGrant(await provider.client(), input.currentUrl, {
          pkceCodeVerifier: record.codeVerifier,
          expectedState: state,
          ...(provider.config.kind === 'oidc' ? { expectedNonce: record.nonce, idTokenExpected: true } : {}),
        });
        identity = await provider.identity(tokens);
      } catch (err) {
        throw exchangeError(err);
      }
      const signedIn = await this.#signIn(providerId, identity, input.caller, now);
      return { ...signedIn, callbackUrl: record.callbackUrl };
    } catch (err) {
      if (err instanceof AppError) throw new OAuthFailure(err, errorCallbackUrl);
      throw err;
    }
  }

  async #signIn(providerId: string, identity: { subject: string; email: string | null; emailVerified: boolean; name: string | null }, caller: AuthContext, now: number): Promise<{ issued: IssuedSession; merged: number }> {
    let takenOver: string | null = null;
    const outcome = await this.#accounts.transaction(async (ops) => {
      let userId = (await ops.findIdentity(providerId, identity.subject))?.userId;
      if (userId === undefined) {
        if (identity.email === null || !identity.emailVerified) {
          return new AppError('OAUTH_EMAIL_UNVERIFIED', 'The provider has not verified an email for this account, so it cannot be linked or used to sign up');
        }
        const existing = await ops.findByEmail(identity.email);
        if (existing && !existing.emailVerified) {
          // Whoever registered this address never proved it: the provider just did. Their
          // password and sessions go, so an address squatted in advance does not keep access.
          await ops.session.tx.auth.updateAccount(existing.id, { passwordHash: null });
          await ops.markEmailVerified(existing.id, now);
          takenOver = existing.id;
        }
        const account = existing ?? (await ops.create({ email: identity.email, emailVerified: true, ...(identity.name ? { displayName: identity.name } : {}) }, now));
        await ops.linkIdentity(providerId, identity.subject, account.id, now);
        userId = account.id;
      }
      const merged = caller.isGuest && caller.userId !== null ? await ops.mergeGuest(caller.userId, userId) : 0;
      return { userId, merged };
    });
    if (outcome instanceof AppError) throw outcome;
    if (takenOver !== null) await this.#sessions.revokeUser(takenOver);
    const issued = await this.#sessions.issue({ userId: outcome.userId });
    if (caller.isGuest && caller.userId !== null) await this.#sessions.revokeUser(caller.userId);
    return { issued, merged: outcome.merged };
  }

  #provider(id: string): ProviderClient {
    const provider = this.#providers.get(id);
    if (!provider) throw new AppError('PROVIDER_NOT_FOUND', `No sign-in provider "${id.slice(0, 32)}"`);
    return provider;
  }
}
