import { MastClientError } from './errors.js';
import type { HttpOutcome } from './http.js';

/** A signed-in session as the server issues it. */
export interface Session {
  readonly token: string;
  readonly userId: string;
  readonly expiresAt: string | undefined;
  readonly guest: boolean;
}

/** What the auth helpers need from the client. */
export interface AuthPort {
  /** An HTTP request with the client's token, or with `token` when given; `withCookie` sends the session cookie. */
  request(method: string, path: string, body?: unknown, token?: string, withCookie?: boolean): Promise<HttpOutcome>;
  /** Adopts the session's token (clearing another user's cache and outbox) and reconnects. */
  signedIn(session: Session): Promise<void>;
  /** Drops the user here; resolves with the token that was in use (null: none) and whether a session cookie was. */
  signedOut(): Promise<{ token: string | null; cookie: boolean }>;
  /** Adopts the session cookie the server set (OAuth): the user it names, no token in script. */
  cookieSignedIn(): Promise<string | null>;
  /** The session now has `tenantId` selected: another org clears the cache and outbox like another user. */
  orgSelected(tenantId: string | null): Promise<void>;
  /** The server's base URL. */
  readonly baseUrl: string;
}

/** An org the signed-in user belongs to, with the user's role in it. */
export interface Org {
  readonly id: string;
  readonly name: string;
  readonly role: 'owner' | 'admin' | 'member' | undefined;
  readonly createdAt: string;
}

function toOrg(body: unknown): Org {
  const b = body as { id: string; name: string; role?: Org['role']; created_at: string };
  return { id: b.id, name: b.name, role: b.role, createdAt: b.created_at };
}

function toSession(body: unknown): Session {
  const b = body as { token: string; user_id: string; expires_at?: string; guest?: boolean };
  return { token: b.token, userId: b.user_id, expiresAt: b.expires_at, guest: b.guest === true };
}

/**
 * The server's sign-in flows at its HTTP paths (`docs/auth.md`). Each successful sign-in makes
 * the client use the new token at once; a different user than before clears the previous user's
 * cache and outbox. A refusal rejects with the server's error (`INVALID_CREDENTIALS`, …).
 */
export class AuthClient {
  readonly #port: AuthPort;

  constructor(port: AuthPort) {
    this.#port = port;
  }

  /** A guest session (`POST /api/auth/guest`). */
  guest(): Promise<Session> {
    return this.#signIn('/api/auth/guest', {});
  }

  /** Creates an account with a password and signs in. */
  register(input: { email: string; password: string; displayName?: string }): Promise<Session> {
    return this.#signIn('/api/auth/password/register', input);
  }

  /** Signs in with email and password. */
  login(input: { email: string; password: string }): Promise<Session> {
    return this.#signIn('/api/auth/password/login', input);
  }

  /** Emails a one-time sign-in code. */
  async sendMagicCode(email: string): Promise<void> {
    await this.#ok('POST', '/api/auth/magic/send', { email });
  }

  /** Signs in with the emailed code. */
  verifyMagicCode(input: { email: string; code: string }): Promise<Session> {
    return this.#signIn('/api/auth/magic/verify', input);
  }

  /** Asks for a password-reset email. */
  async requestPasswordReset(email: string): Promise<void> {
    await this.#ok('POST', '/api/auth/password/reset/request', { email });
  }

  /** Sets a new password with the emailed reset token; signs in with the new session. */
  async completePasswordReset(input: { token: string; newPassword: string }): Promise<Session> {
    return this.#signIn('/api/auth/password/reset/complete', input);
  }

  /** Emails a verification code to the signed-in account's address; `sent: false` when already verified. */
  async sendEmailVerification(): Promise<{ email: string; sent: boolean }> {
    return (await this.#ok('POST', '/api/auth/email/send-verification', {})) as { email: string; sent: boolean };
  }

  /** Marks the signed-in account's email verified with the emailed code; resolves with when. */
  async verifyEmail(code: string): Promise<{ emailVerified: string }> {
    const body = (await this.#ok('POST', '/api/auth/email/verify', { code })) as { emailVerified: string };
    return { emailVerified: body.emailVerified };
  }

  /** The OAuth / OpenID Connect providers the server offers. */
  async providers(): Promise<string[]> {
    return ((await this.#ok('GET', '/api/auth/providers', undefined)) as Array<{ provider: string }>).map((p) => p.provider);
  }

  /**
   * The URL that starts an OAuth sign-in with `provider`: send the browser there (a navigation,
   * not a fetch, so the server's state cookie lands in the browser). The provider sends the
   * browser back to `callback` (on an origin the server trusts), where `completeOAuth` finishes.
   */
  oauthLoginUrl(provider: string, options: { callback: string; errorCallback?: string }): string {
    const q = new URLSearchParams({ callback: options.callback, ...(options.errorCallback ? { error_callback: options.errorCallback } : {}), redirect: '1' });
    return `${this.#port.baseUrl}/api/auth/login/${encodeURIComponent(provider)}?${q.toString()}`;
  }

  /**
   * Finishes an OAuth sign-in on the callback page: `url` is that page's URL (`location.href`).
   * A failure the server put in the URL (`oauth_error`, `oauth_error_message`) rejects with its
   * code. On success the session is the HttpOnly cookie the server set: the client learns the
   * user it names and from then on sends requests with cookies (the socket carries the cookie
   * too). Resolves with the user id.
   */
  async completeOAuth(url: string): Promise<{ userId: string }> {
    const params = new URL(url).searchParams;
    const code = params.get('oauth_error');
    if (code !== null) throw new MastClientError(code, params.get('oauth_error_message') ?? `OAuth sign-in failed (${code})`);
    const userId = await this.#port.cookieSignedIn();
    if (userId === null) throw new MastClientError('AUTH_REQUIRED', 'No session cookie came back from the OAuth sign-in (is the callback page on a trusted origin?)');
    return { userId };
  }

  /** The orgs the signed-in user belongs to, with the role in each. */
  async orgs(): Promise<Org[]> {
    return ((await this.#ok('GET', '/api/auth/orgs', undefined)) as unknown[]).map(toOrg);
  }

  /** Creates an org; the signed-in user becomes its owner. */
  async createOrg(name: string): Promise<Org> {
    return toOrg(await this.#ok('POST', '/api/auth/orgs', { name }));
  }

  /**
   * Selects the org that policies see as `auth.tenantId` (null: none) for this session. Another
   * org than before is a change of what the client may read and write: like a change of user, it
   * drops the cached rows and the pending writes (`IDENTITY_CHANGED`) and subscribes afresh.
   */
  async selectOrg(orgId: string | null): Promise<{ tenantId: string | null }> {
    const body = (await this.#ok('POST', '/api/auth/select-org', { orgId })) as { tenantId: string | null };
    await this.#port.orgSelected(body.tenantId ?? null);
    return { tenantId: body.tenantId ?? null };
  }

  /**
   * Forgets the user here (cache, outbox, the socket moves to anonymous), then revokes the
   * session on the server with the old token (so the revocation never closes a socket this
   * client still counts on).
   */
  async signOut(): Promise<void> {
    const { token, cookie } = await this.#port.signedOut();
    if (token === null && !cookie) return;
    const res = await this.#port.request('DELETE', '/api/auth/session', undefined, token ?? undefined, cookie);
    // A session the server no longer knows is signed out all the same.
    if (!res.ok && res.status !== 401 && res.status !== 0 && res.error.code !== 'AUTH_REQUIRED') throw res.error;
  }

  async #signIn(path: string, body: unknown): Promise<Session> {
    const session = toSession(await this.#ok('POST', path, body));
    await this.#port.signedIn(session);
    return session;
  }

  async #ok(method: string, path: string, body: unknown): Promise<unknown> {
    const res = await this.#port.request(method, path, body);
    if (!res.ok) throw res.error as MastClientError;
    return res.body;
  }
}
