import { randomBytes } from 'node:crypto';
import { authErrors } from '../errors/index.js';
import type { SessionRecord, Store } from '../store/index.js';
import { ADMIN, ANONYMOUS, type AuthContext, hashToken, isAdminToken } from '../access/auth-context.js';
import { systemClock, type Clock } from '../clock/clock.js';

/** Prefix of every session token Mast issues. */
export const SESSION_TOKEN_PREFIX = 'mast_';

/** What a user id may look like (session, API key and JWT subjects alike). */
export const USER_ID = /^[A-Za-z0-9_\-.:@]{1,128}$/;
/** What a role name may look like. */
export const ROLE = /^[A-Za-z0-9_\-.:]{1,64}$/;

/** What a new session carries. */
export interface NewSession {
  readonly userId: string;
  readonly isGuest?: boolean;
  readonly roles?: readonly string[];
  readonly tenantId?: string | null;
  /** Lifetime in seconds; the configured default when absent. */
  readonly expiresIn?: number;
}

/** A session just issued: the token is shown to the client once and stored only hashed. */
export interface IssuedSession {
  readonly token: string;
  readonly session: SessionRecord;
}

/** Called when sessions end, so open sockets of those sessions can be closed. */
export type RevokeListener = (event: { tokenHash?: string; userId?: string }) => void;

/**
 * Issues, resolves and revokes sessions. Tokens are 32 random bytes; the database keeps their
 * SHA-256 hash, so a leaked database holds no usable token. The admin token is compared in
 * constant time and never stored.
 */
export class SessionService {
  readonly #store: Store;
  readonly #adminToken: string | null;
  readonly #lifetimeSecs: number;
  readonly #listeners = new Set<RevokeListener>();
  readonly #clock: Clock;

  constructor(store: Store, options: { adminToken: string | null; lifetimeSecs: number; clock?: Clock }) {
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#adminToken = options.adminToken;
    this.#lifetimeSecs = options.lifetimeSecs;
  }

  /** Issues a session for a user id (admin minting, sign-in flows, guests). */
  async issue(input: NewSession, now = this.#clock.now()): Promise<IssuedSession> {
    if (!USER_ID.test(input.userId)) {
      throw authErrors.invalidUserId('user_id');
    }
    const roles = input.roles ?? [];
    if (roles.length > 32 || !roles.every((r) => typeof r === 'string' && ROLE.test(r))) {
      throw authErrors.invalidRoles();
    }
    const expiresIn = input.expiresIn ?? this.#lifetimeSecs;
    if (!Number.isSafeInteger(expiresIn) || expiresIn <= 0 || expiresIn > 366 * 86_400) {
      throw authErrors.invalidExpiresIn();
    }
    const token = SESSION_TOKEN_PREFIX + randomBytes(32).toString('hex');
    const session: SessionRecord = {
      tokenHash: hashToken(token).toString('hex'),
      userId: input.userId,
      isGuest: input.isGuest ?? false,
      roles: [...roles],
      tenantId: input.tenantId ?? null,
      createdAt: now,
      expiresAt: now + expiresIn * 1000,
    };
    await this.#store.sessions.create(session);
    return { token, session };
  }

  /** Issues a guest session with a fresh `guest_<32 hex>` user id. */
  issueGuest(): Promise<IssuedSession> {
    return this.issue({ userId: `guest_${randomBytes(16).toString('hex')}`, isGuest: true });
  }

  /**
   * Resolves a presented token. No token is anonymous; the admin token is admin; a session token
   * that is unknown, revoked or expired is `401` — never silently anonymous, so a client learns
   * it must sign in again.
   */
  async resolve(token: string | null, now = this.#clock.now()): Promise<AuthContext> {
    if (token === null) return ANONYMOUS;
    if (isAdminToken(token, this.#adminToken)) return ADMIN;
    if (!token.startsWith(SESSION_TOKEN_PREFIX)) throw authErrors.foreignToken();
    const tokenHash = hashToken(token).toString('hex');
    const session = await this.#store.sessions.find(tokenHash);
    if (!session) throw authErrors.sessionUnknown();
    if (session.expiresAt <= now) throw authErrors.sessionExpired();
    // The role is read on every request, so a change of role or a removal takes effect at once.
    const orgRole = session.tenantId === null ? null : await this.#store.orgs.role(session.tenantId, session.userId);
    return Object.freeze({
      userId: session.userId,
      isAdmin: false,
      isGuest: session.isGuest,
      roles: Object.freeze([...session.roles]),
      tenantId: session.tenantId,
      orgRole,
      sessionHash: tokenHash,
      expiresAt: session.expiresAt,
    });
  }

  /** Sets the org a session has selected (null: none); false when the session is gone. */
  selectTenant(tokenHash: string, tenantId: string | null): Promise<boolean> {
    return this.#store.sessions.setTenant(tokenHash, tenantId);
  }

  /** Ends one session (sign-out). */
  async revoke(tokenHash: string): Promise<boolean> {
    const revoked = await this.#store.sessions.revoke(tokenHash);
    if (revoked) this.#emit({ tokenHash });
    return revoked;
  }

  /** Ends every session of a user. */
  async revokeUser(userId: string): Promise<number> {
    const count = await this.#store.sessions.revokeUser(userId);
    this.#emit({ userId });
    return count;
  }

  /** Subscribes to revocations; returns the unsubscribe function. */
  onRevoke(listener: RevokeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells listeners that credentials other than a session ended (an API key: its `sessionHash`). */
  announceRevoked(event: { tokenHash?: string; userId?: string }): void {
    this.#emit(event);
  }

  #emit(event: { tokenHash?: string; userId?: string }): void {
    for (const listener of this.#listeners) listener(event);
  }
}
