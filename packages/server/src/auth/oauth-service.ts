import { randomBytes, timingSafeEqual } from 'node:crypto';
import type * as Oidc from 'openid-client';
import { oidcModule } from './oidc-module.js';
import { AppError, authErrors } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { AccountService } from './accounts.js';
import { type AuthContext, hashToken } from '../access/auth-context.js';
import type { LocalAuth, SignIn } from './local-auth.js';
import { type OAuthProviderConfig, type ProviderIdentity, ProviderClient } from './oauth-providers.js';
import type { SessionService } from './session-service.js';
import { systemClock, type Clock } from '../clock/clock.js';

/** How long a sign-in may take between the redirect to the provider and the callback. */
export const OAUTH_STATE_TTL_MS = 600_000;

/** A sign-in just started: where to send the browser, and the value of its binding cookie. */
export interface OAuthStart {
  readonly redirect: string;
  readonly state: string;
  /** Goes into a short-lived HttpOnly cookie; the callback must present it (the state is bound to this browser). */
  readonly browserToken: string;
}

/** A finished sign-in and where the browser goes next. */
export interface OAuthSignIn extends SignIn {
  readonly callbackUrl: string;
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
  return authErrors.oauthInvalidState();
}

/** openid-client's and fetch's errors as catalogue errors: an unreachable provider, or an answer that does not verify. */
function exchangeError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const cause = (err as { cause?: unknown }).cause;
  const network = err instanceof TypeError || cause instanceof TypeError || (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
  if (network) return authErrors.idpUnreachable(err);
  // openid-client is loaded lazily, so its error class is recognised by name.
  if ((err as Error).name === 'ResponseBodyError') return authErrors.oauthCodeRefused(String((err as Oidc.ResponseBodyError).error), err);
  return authErrors.oauthUnverified(String((err as Error).message), err);
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
  readonly #signInAs: LocalAuth['signIn'];

  readonly #clock: Clock;

  /** `signIn` is LocalAuth's: the account lookup and the guest merge in one transaction, then the session. */
  constructor(deps: { store: Store; accounts: AccountService; sessions: SessionService; signIn: LocalAuth['signIn']; providers: readonly OAuthProviderConfig[]; clock?: Clock }) {
    this.#store = deps.store;
    this.#clock = deps.clock ?? systemClock;
    this.#accounts = deps.accounts;
    this.#sessions = deps.sessions;
    this.#signInAs = deps.signIn;
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
  async begin(providerId: string, input: { callbackUrl: string; errorCallbackUrl: string | null; redirectUri: string }, now = this.#clock.now()): Promise<OAuthStart> {
    const oidc = await oidcModule();
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
  async complete(providerId: string, input: { currentUrl: URL; browserToken: string | null; caller: AuthContext }, now = this.#clock.now()): Promise<OAuthSignIn> {
    const oidc = await oidcModule();
    const provider = this.#provider(providerId);
    const state = input.currentUrl.searchParams.get('state');
    if (!state) throw invalidState();
    const record = await this.#store.oauthStates.take(hashToken(state).toString('hex'), now);
    if (!record || record.provider !== providerId || input.browserToken === null) throw invalidState();
    if (!timingSafeEqual(hashToken(input.browserToken), Buffer.from(record.browserHash, 'hex'))) throw invalidState();
    const errorCallbackUrl = record.errorCallbackUrl ?? record.callbackUrl;
    try {
      const refused = input.currentUrl.searchParams.get('error');
      if (refused !== null) throw authErrors.oauthRefused(refused);
      let identity: ProviderIdentity;
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

  async #signIn(providerId: string, identity: ProviderIdentity, caller: AuthContext, now: number): Promise<SignIn> {
    if (identity.email !== null && identity.emailVerified) await this.#claimEmail(providerId, identity.email, identity.subject, now);
    return this.#signInAs(caller, async (ops) => {
      const linked = await ops.findIdentity(providerId, identity.subject);
      if (linked) return (await ops.get(linked.userId)) ?? authErrors.oauthAccountGone();
      if (identity.email === null || !identity.emailVerified) {
        return authErrors.oauthEmailUnverified();
      }
      const account =
        (await ops.findByEmail(identity.email)) ??
        (await ops.create({ email: identity.email, emailVerified: true, ...(identity.name ? { displayName: identity.name } : {}) }, now));
      await ops.linkIdentity(providerId, identity.subject, account.id, now);
      return account;
    });
  }

  /**
   * Before a provider-verified email links to an account whose own email was never verified:
   * whoever registered that address never proved it, so its password and sessions go (an
   * address registered in advance by someone else must not keep access to the account).
   */
  async #claimEmail(providerId: string, email: string, subject: string, now: number): Promise<void> {
    const squatted = await this.#accounts.transaction(async (ops) => {
      if (await ops.findIdentity(providerId, subject)) return null;
      const existing = await ops.findByEmail(email);
      if (!existing || existing.emailVerified) return null;
      await ops.session.system.auth.updateAccount(existing.id, { passwordHash: null });
      await ops.markEmailVerified(existing.id, now);
      return existing.id;
    });
    if (squatted !== null) await this.#sessions.revokeUser(squatted);
  }

  #provider(id: string): ProviderClient {
    const provider = this.#providers.get(id);
    if (!provider) throw authErrors.providerNotFound(id);
    return provider;
  }
}
