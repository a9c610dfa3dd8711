import type { AuthContext } from './auth-context.js';
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
export type EndStream = (code: 'UNAUTHORIZED' | 'ACCESS_CHANGED', message: string) => void;

/**
 * The open long-lived HTTP streams (live-query SSE, query-function watches) with the identity
 * they were opened with. A stream is authenticated once, like a socket, so a revoked session or
 * a changed org access ends it; the client reconnects (SSE clients do) under its current access.
 */
export class AuthedStreams {
  readonly #open = new Map<EndStream, AuthContext>();

  /** Registers a stream; the returned function unregisters it (call it when the stream closes). */
  add(auth: AuthContext, end: EndStream): () => void {
    this.#open.set(end, auth);
    return () => this.#open.delete(end);
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
