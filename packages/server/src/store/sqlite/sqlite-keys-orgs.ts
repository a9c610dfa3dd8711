import { storeErrors } from '../../errors/index.js';
import type { ApiKeyRecord, InviteRecord, MemberRecord, OAuthStateRecord, OrgRecord, OrgRole } from '../store.js';
import type { Cells, SqliteConnection } from './sqlite-connection.js';

/** The tables of API keys, orgs, memberships and pending OAuth sign-ins. */
export const KEYS_ORGS_TABLES = `
CREATE TABLE IF NOT EXISTS _mast_api_keys (
  id TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  scopes TEXT NOT NULL,
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX IF NOT EXISTS _mast_api_keys_user ON _mast_api_keys (user_id);
CREATE TABLE IF NOT EXISTS _mast_orgs (
  id TEXT PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS _mast_org_members (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX IF NOT EXISTS _mast_org_members_user ON _mast_org_members (user_id);
CREATE TABLE IF NOT EXISTS _mast_org_invites (
  id TEXT PRIMARY KEY NOT NULL,
  org_id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  email TEXT,
  role TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _mast_org_invites_org ON _mast_org_invites (org_id);
CREATE TABLE IF NOT EXISTS _mast_oauth_states (
  state_hash TEXT PRIMARY KEY NOT NULL,
  provider TEXT NOT NULL,
  browser_hash TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  nonce TEXT NOT NULL,
  callback_url TEXT NOT NULL,
  error_callback_url TEXT,
  expires_at INTEGER NOT NULL
);
`;

const num = (cell: unknown): number | null => (cell === null || cell === undefined ? null : Number(cell));

function toKey(c: Cells): ApiKeyRecord {
  return {
    id: String(c['id']),
    userId: String(c['user_id']),
    name: String(c['name']),
    secretHash: String(c['secret_hash']),
    scopes: JSON.parse(String(c['scopes'])) as string[],
    expiresAt: num(c['expires_at']),
    createdAt: Number(c['created_at']),
    lastUsedAt: num(c['last_used_at']),
  };
}

function toOrg(c: Cells): OrgRecord {
  return { id: String(c['id']), name: String(c['name']), createdBy: String(c['created_by']), createdAt: Number(c['created_at']) };
}

function toMember(c: Cells): MemberRecord {
  return { orgId: String(c['org_id']), userId: String(c['user_id']), role: String(c['role']) as OrgRole, createdAt: Number(c['created_at']) };
}

export function createApiKey(conn: SqliteConnection, k: ApiKeyRecord): void {
  conn.run('INSERT INTO _mast_api_keys (id, user_id, name, secret_hash, scopes, expires_at, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
    k.id,
    k.userId,
    k.name,
    k.secretHash,
    JSON.stringify(k.scopes),
    k.expiresAt,
    k.createdAt,
    k.lastUsedAt,
  ]);
}

export function findApiKey(conn: SqliteConnection, id: string): ApiKeyRecord | null {
  const c = conn.get('SELECT * FROM _mast_api_keys WHERE id = ?', [id]);
  return c ? toKey(c) : null;
}

export function listApiKeys(conn: SqliteConnection, userId: string): ApiKeyRecord[] {
  return conn.all('SELECT * FROM _mast_api_keys WHERE user_id = ? ORDER BY created_at DESC, id', [userId]).map(toKey);
}

export function countApiKeys(conn: SqliteConnection, userId: string): number {
  return Number(conn.get('SELECT COUNT(*) AS n FROM _mast_api_keys WHERE user_id = ?', [userId])?.['n'] ?? 0);
}

export function revokeApiKey(conn: SqliteConnection, id: string, userId: string): boolean {
  return conn.run('DELETE FROM _mast_api_keys WHERE id = ? AND user_id = ?', [id, userId]) > 0;
}

export function touchApiKey(conn: SqliteConnection, id: string, now: number): void {
  conn.run('UPDATE _mast_api_keys SET last_used_at = ? WHERE id = ?', [now, id]);
}

/** Inserts the org and its creator's owner membership (inside a write transaction). */
export function createOrg(conn: SqliteConnection, org: OrgRecord): void {
  conn.run('INSERT INTO _mast_orgs (id, name, created_by, created_at) VALUES (?, ?, ?, ?)', [org.id, org.name, org.createdBy, org.createdAt]);
  putMember(conn, { orgId: org.id, userId: org.createdBy, role: 'owner', createdAt: org.createdAt });
}

export function getOrg(conn: SqliteConnection, id: string): OrgRecord | null {
  const c = conn.get('SELECT * FROM _mast_orgs WHERE id = ?', [id]);
  return c ? toOrg(c) : null;
}

export function listOrgsForUser(conn: SqliteConnection, userId: string): Array<OrgRecord & { role: OrgRole }> {
  return conn
    .all('SELECT o.*, m.role FROM _mast_orgs o JOIN _mast_org_members m ON m.org_id = o.id WHERE m.user_id = ? ORDER BY o.created_at, o.id', [userId])
    .map((c) => ({ ...toOrg(c), role: String(c['role']) as OrgRole }));
}

export function countOrgsForUser(conn: SqliteConnection, userId: string): number {
  return Number(conn.get('SELECT COUNT(*) AS n FROM _mast_org_members WHERE user_id = ?', [userId])?.['n'] ?? 0);
}

/** Deletes the org, its members, and the org from sessions that selected it (inside a write transaction). */
export function deleteOrg(conn: SqliteConnection, id: string): boolean {
  conn.run('DELETE FROM _mast_org_members WHERE org_id = ?', [id]);
  conn.run('DELETE FROM _mast_org_invites WHERE org_id = ?', [id]);
  conn.run('UPDATE _mast_sessions SET tenant_id = NULL WHERE tenant_id = ?', [id]);
  return conn.run('DELETE FROM _mast_orgs WHERE id = ?', [id]) > 0;
}

export function listMembers(conn: SqliteConnection, orgId: string): MemberRecord[] {
  return conn.all('SELECT * FROM _mast_org_members WHERE org_id = ? ORDER BY created_at, user_id', [orgId]).map(toMember);
}

export function countMembers(conn: SqliteConnection, orgId: string): number {
  return Number(conn.get('SELECT COUNT(*) AS n FROM _mast_org_members WHERE org_id = ?', [orgId])?.['n'] ?? 0);
}

export function memberRole(conn: SqliteConnection, orgId: string, userId: string): OrgRole | null {
  const c = conn.get('SELECT role FROM _mast_org_members WHERE org_id = ? AND user_id = ?', [orgId, userId]);
  return c ? (String(c['role']) as OrgRole) : null;
}

export function putMember(conn: SqliteConnection, m: MemberRecord): void {
  conn.run('INSERT INTO _mast_org_members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role', [
    m.orgId,
    m.userId,
    m.role,
    m.createdAt,
  ]);
  keepOwner(conn, m.orgId);
}

/** Throws LAST_OWNER (rolling the transaction back) when a change left the org without an owner. */
function keepOwner(conn: SqliteConnection, orgId: string): void {
  const owners = Number(conn.get("SELECT COUNT(*) AS n FROM _mast_org_members WHERE org_id = ? AND role = 'owner'", [orgId])?.['n'] ?? 0);
  if (owners === 0) throw storeErrors.lastOwner();
}

/** Removes a member and clears the org from that user's sessions (inside a write transaction). */
export function removeMember(conn: SqliteConnection, orgId: string, userId: string): boolean {
  conn.run('UPDATE _mast_sessions SET tenant_id = NULL WHERE user_id = ? AND tenant_id = ?', [userId, orgId]);
  const removed = conn.run('DELETE FROM _mast_org_members WHERE org_id = ? AND user_id = ?', [orgId, userId]) > 0;
  if (removed) keepOwner(conn, orgId);
  return removed;
}

function toInvite(c: Cells): InviteRecord {
  return {
    id: String(c['id']),
    orgId: String(c['org_id']),
    tokenHash: String(c['token_hash']),
    email: typeof c['email'] === 'string' ? c['email'] : null,
    role: String(c['role']) as OrgRole,
    createdBy: String(c['created_by']),
    createdAt: Number(c['created_at']),
    expiresAt: Number(c['expires_at']),
  };
}

export function putInvite(conn: SqliteConnection, i: InviteRecord): void {
  conn.run('INSERT INTO _mast_org_invites (id, org_id, token_hash, email, role, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
    i.id,
    i.orgId,
    i.tokenHash,
    i.email,
    i.role,
    i.createdBy,
    i.createdAt,
    i.expiresAt,
  ]);
}

export function listInvites(conn: SqliteConnection, orgId: string): InviteRecord[] {
  return conn.all('SELECT * FROM _mast_org_invites WHERE org_id = ? ORDER BY created_at, id', [orgId]).map(toInvite);
}

export function countInvites(conn: SqliteConnection, orgId: string): number {
  return Number(conn.get('SELECT COUNT(*) AS n FROM _mast_org_invites WHERE org_id = ?', [orgId])?.['n'] ?? 0);
}

export function findInvite(conn: SqliteConnection, tokenHash: string): InviteRecord | null {
  const c = conn.get('SELECT * FROM _mast_org_invites WHERE token_hash = ?', [tokenHash]);
  return c ? toInvite(c) : null;
}

export function deleteInvite(conn: SqliteConnection, orgId: string, id: string): boolean {
  return conn.run('DELETE FROM _mast_org_invites WHERE org_id = ? AND id = ?', [orgId, id]) > 0;
}

/** Deletes the invite and adds the member (inside a write transaction); null when it was gone or expired. */
export function acceptInvite(conn: SqliteConnection, tokenHash: string, userId: string, now: number): MemberRecord | null {
  const c = conn.get('DELETE FROM _mast_org_invites WHERE token_hash = ? RETURNING *', [tokenHash]);
  if (!c) return null;
  const invite = toInvite(c);
  if (invite.expiresAt <= now || getOrg(conn, invite.orgId) === null) return null;
  const current = memberRole(conn, invite.orgId, userId);
  if (current !== null) return { orgId: invite.orgId, userId, role: current, createdAt: now };
  const member: MemberRecord = { orgId: invite.orgId, userId, role: invite.role, createdAt: now };
  putMember(conn, member);
  return member;
}

export function putOAuthState(conn: SqliteConnection, s: OAuthStateRecord): void {
  conn.run(
    `INSERT INTO _mast_oauth_states (state_hash, provider, browser_hash, code_verifier, nonce, callback_url, error_callback_url, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [s.stateHash, s.provider, s.browserHash, s.codeVerifier, s.nonce, s.callbackUrl, s.errorCallbackUrl, s.expiresAt],
  );
}

/** Deletes the state and returns it unless it had expired (inside a write transaction). */
export function takeOAuthState(conn: SqliteConnection, stateHash: string, now: number): OAuthStateRecord | null {
  const c = conn.get('DELETE FROM _mast_oauth_states WHERE state_hash = ? RETURNING *', [stateHash]);
  if (!c || Number(c['expires_at']) <= now) return null;
  return {
    stateHash: String(c['state_hash']),
    provider: String(c['provider']),
    browserHash: String(c['browser_hash']),
    codeVerifier: String(c['code_verifier']),
    nonce: String(c['nonce']),
    callbackUrl: String(c['callback_url']),
    errorCallbackUrl: typeof c['error_callback_url'] === 'string' ? c['error_callback_url'] : null,
    expiresAt: Number(c['expires_at']),
  };
}

export function pruneOAuthStates(conn: SqliteConnection, now: number): number {
  return conn.run('DELETE FROM _mast_oauth_states WHERE expires_at <= ?', [now]);
}
