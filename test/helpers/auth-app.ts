import type { Manifest } from '@mast/schema';
import type { TestServer } from './test-server.js';

/** The admin token of the auth tests' servers. */
export const AUTH_ADMIN = 'admin-token-for-auth-tests';

const OWNER = 'auth.userId == data.ownerId';
const MEMBER = 'auth.tenantId == data.tenantId && auth.orgRole != null';

/**
 * Docs owned by a user and filed in an org: the owner reads and writes them; members of the
 * org selected by the session read them; only the org's owners and admins delete them.
 */
export const authManifest: Manifest = {
  manifest_version: 1,
  name: 'auth',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Doc',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'ownerId', type: 'string', optional: false, unique: false },
        { name: 'tenantId', type: 'string', optional: true, unique: false },
      ],
      indexes: [],
    },
  ],
  policies: [
    {
      name: 'docs',
      entity: 'Doc',
      allowRead: `${OWNER} || (${MEMBER})`,
      allowInsert: OWNER,
      allowUpdate: OWNER,
      allowDelete: `auth.tenantId == data.tenantId && auth.orgRole in ["owner", "admin"]`,
    },
  ],
};

/** `Authorization: Bearer <token>`, or no header for null. */
export const bearer = (token: string | null): Record<string, string> => (token === null ? {} : { authorization: `Bearer ${token}` });

/** Mints a session for `userId` with the admin token; returns its token. */
export async function signIn(t: TestServer, userId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await t.request('POST', '/api/auth/session', { body: { user_id: userId, ...extra }, headers: bearer(AUTH_ADMIN) });
  if (res.status !== 201) throw new Error(`mint failed: ${res.text}`);
  return (res.json as { token: string }).token;
}

/** The ids of the docs a caller can list, sorted. */
export async function visibleDocs(t: TestServer, token: string | null): Promise<string[]> {
  const res = await t.request('GET', '/api/entities/Doc', { headers: bearer(token) });
  if (res.status !== 200) throw new Error(`list failed: ${res.text}`);
  const body = res.json as { data: Array<{ id: string }> } | Array<{ id: string }>;
  const rows = Array.isArray(body) ? body : body.data;
  return rows.map((r) => r.id).sort();
}
