import type { SessionRecord } from '../store.js';
import type { Cells, SqliteConnection } from './sqlite-connection.js';

/** The sessions table; created with Mast's other internal tables. */
export const SESSIONS_TABLE = `
CREATE TABLE IF NOT EXISTS _mast_sessions (
  token_hash TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL,
  is_guest INTEGER NOT NULL,
  roles TEXT NOT NULL,
  tenant_id TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_sessions_user ON _mast_sessions (user_id);
CREATE INDEX IF NOT EXISTS _mast_sessions_expires ON _mast_sessions (expires_at);
`;

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
export function createSession(conn: SqliteConnection, s: SessionRecord): void {
  conn.run('INSERT INTO _mast_sessions (token_hash, user_id, is_guest, roles, tenant_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
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
export function findSession(conn: SqliteConnection, tokenHash: string): SessionRecord | null {
  const cells = conn.get('SELECT * FROM _mast_sessions WHERE token_hash = ?', [tokenHash]);
  return cells ? toSession(cells) : null;
}

/** Deletes one session; true when one was deleted. */
export function revokeSession(conn: SqliteConnection, tokenHash: string): boolean {
  return conn.run('DELETE FROM _mast_sessions WHERE token_hash = ?', [tokenHash]) > 0;
}

/** Sets the org a session has selected. */
export function setSessionTenant(conn: SqliteConnection, tokenHash: string, tenantId: string | null): boolean {
  return conn.run('UPDATE _mast_sessions SET tenant_id = ? WHERE token_hash = ?', [tenantId, tokenHash]) > 0;
}

/** Deletes all sessions of a user. */
export function revokeUserSessions(conn: SqliteConnection, userId: string): number {
  return conn.run('DELETE FROM _mast_sessions WHERE user_id = ?', [userId]);
}

/** Deletes expired sessions. */
export function pruneExpiredSessions(conn: SqliteConnection, now: number): number {
  return conn.run('DELETE FROM _mast_sessions WHERE expires_at <= ?', [now]);
}
