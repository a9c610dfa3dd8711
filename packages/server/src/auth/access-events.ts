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

/** How `AuthedConnections.add` treats a connection. */
export interface AddOptions {
  /**
   * End the connection with SESSION_EXPIRED when its credentials expire (default true). A
   * protocol session (socket or in-process) checks its own expiry and passes false.
   */
  readonly expire?: boolean;
}

/**
 * Every open authenticated connection of this node, whatever carries it: sockets, in-process
 * connections (`core.connect`) and long-lived HTTP streams (live-query SSE, query-function
 * watches), each with the identity it was opened with. A connection is authenticated once, so a
 * revoked session or a changed org access ends it here, in one place; a stream is also ended at
 * its session's expiry (by a timer at that moment, not at the next event). Clients reconnect
 * under their current access.
 */
export class AuthedConnections {
  readonly #open = new Map<EndStream, AuthContext>();
  #epoch = 0;

  /**
   * Registers a connection; the returned function unregisters it (call it when the connection
   * closes). With `expire` (the default), a connection whose credentials expire is ended with
   * SESSION_EXPIRED at that time, once.
   */
  add(auth: AuthContext, end: EndStream, options: AddOptions = {}): () => void {
    let cancelExpiry = (): void => undefined;
    const registered: EndStream = (code, message) => {
      cancelExpiry();
      this.#open.delete(registered);
      end(code, message);
    };
    this.#open.set(registered, auth);
    if (auth.expiresAt !== undefined && options.expire !== false) {
      cancelExpiry = callAt(auth.expiresAt, () => registered('SESSION_EXPIRED', 'The session has expired; sign in again'));
    }
    return () => {
      cancelExpiry();
      this.#open.delete(registered);
    };
  }

  /** How many connections are open (for tests). */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Moves on every revocation and access change: a caller that resolved credentials while it
   * moved resolves them again before registering (the answer may predate the change).
   */
  get epoch(): number {
    return this.#epoch;
  }

  /** Ends (UNAUTHORIZED, 4001 on a socket) the connections of a revoked session or user. */
  closeRevoked(event: Revocation): void {
    this.#epoch++;
    for (const [end, auth] of [...this.#open]) if (revokedBy(auth, event)) end('UNAUTHORIZED', 'The session was revoked');
  }

  /**
   * Ends (ACCESS_CHANGED, 4012 on a socket) the connections whose tenant or org role no longer
   * holds: a member's on the org (`userId`), every one on a deleted org, or a session's after it
   * selected another org (`tokenHash`).
   */
  closeAccessChanged(change: OrgAccessChange): void {
    this.#epoch++;
    for (const [end, auth] of [...this.#open]) if (accessChangedBy(auth, change)) end('ACCESS_CHANGED', 'Your org role or selected org changed; reconnect');
  }
}
