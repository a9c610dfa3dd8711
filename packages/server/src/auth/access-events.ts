import type { AuthContext } from '../access/auth-context.js';
import type { OrgAccessChange } from './org-service.js';

/** A revocation: one session (`tokenHash`) or every session of a user (`userId`). */
export interface Revocation {
  readonly tokenHash?: string;
  readonly userId?: string;
}

/** Whether a connection authenticated as `auth` was revoked by `event`. The admin token never is. */
export function revokedBy(auth: AuthContext, event: Revocation): boolean {
  if (auth.isAdmin) return false;
  return (event.tokenHash !== undefined && auth.sessionHash === event.tokenHash) || (event.userId !== undefined && auth.userId === event.userId);
}

/**
 * Whether what a connection authenticated as `auth` may read changed with `change`: its org role
 * (a member changed or removed), its org (deleted), or the org its session selected.
 */
export function accessChangedBy(auth: AuthContext, change: OrgAccessChange): boolean {
  if (auth.isAdmin) return false;
  if ('tokenHash' in change) return auth.sessionHash === change.tokenHash;
  return auth.tenantId === change.orgId && (change.userId === undefined || auth.userId === change.userId);
}

/** How a long-lived HTTP stream is ended early: with a last `error` event naming why. */
export type EndStream = (code: 'UNAUTHORIZED' | 'ACCESS_CHANGED' | 'SESSION_EXPIRED', message: string) => void;

/** Longest delay `setTimeout` keeps (about 24.8 days); a longer one is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `fn` at `time` (ms since the epoch), however far away; returns the canceller. */
export function callAt(time: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const delay = time - Date.now();
    if (delay <= 0) return fn();
    timer = setTimeout(arm, Math.min(delay, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}

/**
 * The open long-lived HTTP streams (live-query SSE, query-function watches) with the identity
 * they were opened with. A stream is authenticated once, like a socket, so a revoked session, a
 * changed org access or the session's expiry ends it (the expiry by a timer at that moment, not
 * at the next event); the client reconnects (SSE clients do) under its current access.
 */
export class AuthedStreams {
  readonly #open = new Map<EndStream, AuthContext>();

  /**
   * Registers a stream; the returned function unregisters it (call it when the stream closes).
   * A stream whose credentials expire is ended with SESSION_EXPIRED at that time, once.
   */
  add(auth: AuthContext, end: EndStream): () => void {
    let cancelExpiry = (): void => undefined;
    const registered: EndStream = (code, message) => {
      cancelExpiry();
      this.#open.delete(registered);
      end(code, message);
    };
    this.#open.set(registered, auth);
    if (auth.expiresAt !== undefined) cancelExpiry = callAt(auth.expiresAt, () => registered('SESSION_EXPIRED', 'The session has expired; sign in again'));
    return () => {
      cancelExpiry();
      this.#open.delete(registered);
    };
  }

  /** How many streams are open (for tests). */
  get size(): number {
    return this.#open.size;
  }

  closeRevoked(event: Revocation): void {
    for (const [end, auth] of [...this.#open]) if (revokedBy(auth, event)) end('UNAUTHORIZED', 'The session was revoked');
  }

  closeAccessChanged(change: OrgAccessChange): void {
    for (const [end, auth] of [...this.#open]) if (accessChangedBy(auth, change)) end('ACCESS_CHANGED', 'Your org role or selected org changed; reconnect');
  }
}
