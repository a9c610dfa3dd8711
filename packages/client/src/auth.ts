import type { MastClientError } from './errors.js';
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
  /** An HTTP request with the client's token, or with `token` when given. */
  request(method: string, path: string, body?: unknown, token?: string): Promise<HttpOutcome>;
  /** Adopts the session's token (clearing another user's cache and outbox) and reconnects. */
  signedIn(session: Session): Promise<void>;
  /** Drops the user here; resolves with the token that was in use (null: none). */
  signedOut(): Promise<string | null>;
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

  /**
   * Forgets the user here (cache, outbox, the socket moves to anonymous), then revokes the
   * session on the server with the old token (so the revocation never closes a socket this
   * client still counts on).
   */
  async signOut(): Promise<void> {
    const token = await this.#port.signedOut();
    if (token === null) return;
    const res = await this.#port.request('DELETE', '/api/auth/session', undefined, token);
    // A session the server no longer knows is signed out all the same.
    if (!res.ok && res.status !== 401 && res.status !== 0) throw res.error;
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
