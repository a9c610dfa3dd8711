import { storeErrors } from '../../errors/index.js';
import type { ApiKeyRecord, InviteRecord, MemberRecord, OAuthStateRecord, OrgRecord, OrgRole } from '../store.js';
import type { Cells, PgConnection } from './pg-connection.js';

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

/** API keys, orgs, members, invites and OAuth states on PostgreSQL (tables in `pg-tables.ts`). */
export async function createApiKey(conn: PgConnection, k: ApiKeyRecord): Promise<void> {
  await conn.run('INSERT INTO _mast_api_keys (id, user_id, name, secret_hash, scopes, expires_at, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
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

export async function findApiKey(conn: PgConnection, id: string): Promise<ApiKeyRecord | null> {
  const c = await conn.get('SELECT * FROM _mast_api_keys WHERE id = ?', [id]);
  return c ? toKey(c) : null;
}

export async function listApiKeys(conn: PgConnection, userId: string): Promise<ApiKeyRecord[]> {
  return (await conn.all('SELECT * FROM _mast_api_keys WHERE user_id = ? ORDER BY created_at DESC, id', [userId])).map(toKey);
}

export async function countApiKeys(conn: PgConnection, userId: string): Promise<number> {
  return Number((await conn.get('SELECT COUNT(*) AS n FROM _mast_api_keys WHERE user_id = ?', [userId]))?.['n'] ?? 0);
}

export async function revokeApiKey(conn: PgConnection, id: string, userId: string): Promise<boolean> {
  return (await conn.run('DELETE FROM _mast_api_keys WHERE id = ? AND user_id = ?', [id, userId])) > 0;
}

export async function touchApiKey(conn: PgConnection, id: string, now: number): Promise<void> {
  await conn.run('UPDATE _mast_api_keys SET last_used_at = ? WHERE id = ?', [now, id]);
}

/** Inserts the org and its creator's owner membership (inside a write transaction). */
export async function createOrg(conn: PgConnection, org: OrgRecord): Promise<void> {
  await conn.run('INSERT INTO _mast_orgs (id, name, created_by, created_at) VALUES (?, ?, ?, ?)', [org.id, org.name, org.createdBy, org.createdAt]);
  await putMember(conn, { orgId: org.id, userId: org.createdBy, role: 'owner', createdAt: org.createdAt });
}

export async function getOrg(conn: PgConnection, id: string): Promise<OrgRecord | null> {
  const c = await conn.get('SELECT * FROM _mast_orgs WHERE id = ?', [id]);
  return c ? toOrg(c) : null;
}

export async function listOrgsForUser(conn: PgConnection, userId: string): Promise<Array<OrgRecord & { role: OrgRole }>> {
  return (await conn.all('SELECT o.*, m.role FROM _mast_orgs o JOIN _mast_org_members m ON m.org_id = o.id WHERE m.user_id = ? ORDER BY o.created_at, o.id', [userId])).map(
    (c) => ({ ...toOrg(c), role: String(c['role']) as OrgRole }),
  );
}

export async function countOrgsForUser(conn: PgConnection, userId: string): Promise<number> {
  return Number((await conn.get('SELECT COUNT(*) AS n FROM _mast_org_members WHERE user_id = ?', [userId]))?.['n'] ?? 0);
}

/** Deletes the org, its members, and the org from sessions that selected it (inside a write transaction). */
export async function deleteOrg(conn: PgConnection, id: string): Promise<boolean> {
  await conn.run('DELETE FROM _mast_org_members WHERE org_id = ?', [id]);
  await conn.run('DELETE FROM _mast_org_invites WHERE org_id = ?', [id]);
  await conn.run('UPDATE _mast_sessions SET tenant_id = NULL WHERE tenant_id = ?', [id]);
  return (await conn.run('DELETE FROM _mast_orgs WHERE id = ?', [id])) > 0;
}

export async function listMembers(conn: PgConnection, orgId: string): Promise<MemberRecord[]> {
  return (await conn.all('SELECT * FROM _mast_org_members WHERE org_id = ? ORDER BY created_at, user_id', [orgId])).map(toMember);
}

export async function countMembers(conn: PgConnection, orgId: string): Promise<number> {
  return Number((await conn.get('SELECT COUNT(*) AS n FROM _mast_org_members WHERE org_id = ?', [orgId]))?.['n'] ?? 0);
}

export async function memberRole(conn: PgConnection, orgId: string, userId: string): Promise<OrgRole | null> {
  const c = await conn.get('SELECT role FROM _mast_org_members WHERE org_id = ? AND user_id = ?', [orgId, userId]);
  return c ? (String(c['role']) as OrgRole) : null;
}

/**
 * Locks the org's row until the transaction ends, so that membership changes of one org run one
 * after the other and the owner count `keepOwner` reads cannot be stale (two concurrent removals
 * of its last two owners would otherwise both see one left).
 */
async function lockOrg(conn: PgConnection, orgId: string): Promise<void> {
  await conn.run('SELECT 1 FROM _mast_orgs WHERE id = ? FOR UPDATE', [orgId]);
}

export async function putMember(conn: PgConnection, m: MemberRecord): Promise<void> {
  await lockOrg(conn, m.orgId);
  await conn.run('INSERT INTO _mast_org_members (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role', [
    m.orgId,
    m.userId,
    m.role,
    m.createdAt,
  ]);
  await keepOwner(conn, m.orgId);
}

/** Throws LAST_OWNER (rolling the transaction back) when a change left the org without an owner. */
async function keepOwner(conn: PgConnection, orgId: string): Promise<void> {
  const owners = Number((await conn.get("SELECT COUNT(*) AS n FROM _mast_org_members WHERE org_id = ? AND role = 'owner'", [orgId]))?.['n'] ?? 0);
  if (owners === 0) throw storeErrors.lastOwner();
}

/** Removes a member and clears the org from that user's sessions (inside a write transaction). */
export async function removeMember(conn: PgConnection, orgId: string, userId: string): Promise<boolean> {
  await lockOrg(conn, orgId);
  await conn.run('UPDATE _mast_sessions SET tenant_id = NULL WHERE user_id = ? AND tenant_id = ?', [userId, orgId]);
  const removed = (await conn.run('DELETE FROM _mast_org_members WHERE org_id = ? AND user_id = ?', [orgId, userId])) > 0;
  if (removed) await keepOwner(conn, orgId);
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

export async function putInvite(conn: PgConnection, i: InviteRecord): Promise<void> {
  await conn.run('INSERT INTO _mast_org_invites (id, org_id, token_hash, email, role, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
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

export async function listInvites(conn: PgConnection, orgId: string): Promise<InviteRecord[]> {
  return (await conn.all('SELECT * FROM _mast_org_invites WHERE org_id = ? ORDER BY created_at, id', [orgId])).map(toInvite);
}

export async function countInvites(conn: PgConnection, orgId: string): Promise<number> {
  return Number((await conn.get('SELECT COUNT(*) AS n FROM _mast_org_invites WHERE org_id = ?', [orgId]))?.['n'] ?? 0);
}

export async function findInvite(conn: PgConnection, tokenHash: string): Promise<InviteRecord | null> {
  const c = await conn.get('SELECT * FROM _mast_org_invites WHERE token_hash = ?', [tokenHash]);
  return c ? toInvite(c) : null;
}

export async function deleteInvite(conn: PgConnection, orgId: string, id: string): Promise<boolean> {
  return (await conn.run('DELETE FROM _mast_org_invites WHERE org_id = ? AND id = ?', [orgId, id])) > 0;
}

/** Deletes the invite and adds the member (inside a write transaction); null when it was gone or expired. */
export async function acceptInvite(conn: PgConnection, tokenHash: string, userId: string, now: number): Promise<MemberRecord | null> {
  const c = await conn.get('DELETE FROM _mast_org_invites WHERE token_hash = ? RETURNING *', [tokenHash]);
  if (!c) return null;
  const invite = toInvite(c);
  if (invite.expiresAt <= now || (await getOrg(conn, invite.orgId)) === null) return null;
  const current = await memberRole(conn, invite.orgId, userId);
  if (current !== null) return { orgId: invite.orgId, userId, role: current, createdAt: now };
  const member: MemberRecord = { orgId: invite.orgId, userId, role: invite.role, createdAt: now };
  await putMember(conn, member);
  return member;
}

export async function putOAuthState(conn: PgConnection, s: OAuthStateRecord): Promise<void> {
  await conn.run(
    `INSERT INTO _mast_oauth_states (state_hash, provider, browser_hash, code_verifier, nonce, callback_url, error_callback_url, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [s.stateHash, s.provider, s.browserHash, s.codeVerifier, s.nonce, s.callbackUrl, s.errorCallbackUrl, s.expiresAt],
  );
}

/** Deletes the state and returns it unless it had expired (inside a write transaction). */
export async function takeOAuthState(conn: PgConnection, stateHash: string, now: number): Promise<OAuthStateRecord | null> {
  const c = await conn.get('DELETE FROM _mast_oauth_states WHERE state_hash = ? RETURNING *', [stateHash]);
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

export async function pruneOAuthStates(conn: PgConnection, now: number): Promise<number> {
  return await conn.run('DELETE FROM _mast_oauth_states WHERE expires_at <= ?', [now]);
}
