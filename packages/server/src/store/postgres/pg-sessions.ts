import type { SessionRecord } from '../store.js';
import type { Cells, PgConnection } from './pg-connection.js';

function toSession(cells: Cells): SessionRecord {
  return {
    tokenHash: String(cells['token_hash']),
    userId: String(cells['user_id']),
    isGuest: cells['is_guest'] === 1,
    roles: JSON.parse(String(cells['roles'])) as string[],
    tenantId: typeof cells['tenant_id'] === 'string' ? cells['tenant_id'] : null,
    createdAt: Number(cells['created_at']),
    expiresAt: Number(cells['expires_at']),
  };
}

/** Inserts a session (inside a write transaction). */
export async function createSession(conn: PgConnection, s: SessionRecord): Promise<void> {
  await conn.run('INSERT INTO _mast_sessions (token_hash, user_id, is_guest, roles, tenant_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    s.tokenHash,
    s.userId,
    s.isGuest ? 1 : 0,
    JSON.stringify(s.roles),
    s.tenantId,
    s.createdAt,
    s.expiresAt,
  ]);
}

/** The session with this token hash, or null. */
export async function findSession(conn: PgConnection, tokenHash: string): Promise<SessionRecord | null> {
  const cells = await conn.get('SELECT * FROM _mast_sessions WHERE token_hash = ?', [tokenHash]);
  return cells ? toSession(cells) : null;
}

/** Deletes one session; true when one was deleted. */
export async function revokeSession(conn: PgConnection, tokenHash: string): Promise<boolean> {
  return (await conn.run('DELETE FROM _mast_sessions WHERE token_hash = ?', [tokenHash])) > 0;
}

/** Sets the org a session has selected. */
export async function setSessionTenant(conn: PgConnection, tokenHash: string, tenantId: string | null): Promise<boolean> {
  return (await conn.run('UPDATE _mast_sessions SET tenant_id = ? WHERE token_hash = ?', [tenantId, tokenHash])) > 0;
}

/** Deletes all sessions of a user. */
export async function revokeUserSessions(conn: PgConnection, userId: string): Promise<number> {
  return await conn.run('DELETE FROM _mast_sessions WHERE user_id = ?', [userId]);
}

/** Deletes expired sessions. */
export async function pruneExpiredSessions(conn: PgConnection, now: number): Promise<number> {
  return await conn.run('DELETE FROM _mast_sessions WHERE expires_at <= ?', [now]);
}
