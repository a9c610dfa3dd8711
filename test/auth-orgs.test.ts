import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH_ADMIN, authManifest, bearer, signIn, visibleDocs } from './helpers/auth-app.js';
import { LiveClient } from './helpers/live-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

let t: TestServer;
let owner: string;
let admin: string;
let member: string;
let outsider: string;
let orgId: string;

const call = async (token: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
  const res = await t.request(method, path, { ...(body !== undefined ? { body } : {}), headers: bearer(token) });
  return { status: res.status, json: res.json };
};

beforeEach(async () => {
  t = await startTestServer(authManifest, { adminToken: AUTH_ADMIN });
  [owner, admin, member, outsider] = (await Promise.all(['olga', 'adam', 'mia', 'otto'].map((u) => signIn(t, u)))) as [string, string, string, string];
  const created = await call(owner, 'POST', '/api/auth/orgs', { name: ' Acme ' });
  expect(created.status).toBe(201);
  orgId = created.json.id;
  expect((await call(owner, 'PUT', `/api/auth/orgs/${orgId}/members/adam`, { role: 'admin' })).status).toBe(200);
  expect((await call(admin, 'PUT', `/api/auth/orgs/${orgId}/members/mia`, { role: 'member' })).status).toBe(200);
});
afterEach(async () => {
  await t.close();
});

describe('orgs and members', () => {
  it('creates an org with its creator as owner; members list and read it, others get 404', async () => {
    const got = await call(member, 'GET', `/api/auth/orgs/${orgId}`);
    expect(got.json).toMatchObject({ id: orgId, name: 'Acme', created_by: 'olga', role: 'member' });
    expect((await call(owner, 'GET', '/api/auth/orgs')).json).toEqual([expect.objectContaining({ id: orgId, role: 'owner' })]);
    expect((await call(outsider, 'GET', '/api/auth/orgs')).json).toEqual([]);
    const members = (await call(member, 'GET', `/api/auth/orgs/${orgId}/members`)).json;
    expect(members.map((m: any) => [m.user_id, m.role])).toEqual([
      ['olga', 'owner'],
      ['adam', 'admin'],
      ['mia', 'member'],
    ]);
    for (const path of [`/api/auth/orgs/${orgId}`, `/api/auth/orgs/${orgId}/members`, '/api/auth/orgs/org_nope']) {
      const res = await call(outsider, 'GET', path);
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ error: { code: 'ORG_NOT_FOUND' } });
    }
  });

  it('enforces roles: members manage nobody, admins manage members and admins, only owners touch ownership', async () => {
    const denied: Array<[string, string, string, unknown]> = [
      [member, 'PUT', `/api/auth/orgs/${orgId}/members/otto`, { role: 'member' }],
      [member, 'DELETE', `/api/auth/orgs/${orgId}/members/adam`, undefined],
      [admin, 'PUT', `/api/auth/orgs/${orgId}/members/otto`, { role: 'owner' }],
      [admin, 'PUT', `/api/auth/orgs/${orgId}/members/olga`, { role: 'member' }],
      [admin, 'DELETE', `/api/auth/orgs/${orgId}/members/olga`, undefined],
      [admin, 'DELETE', `/api/auth/orgs/${orgId}`, undefined],
      [member, 'DELETE', `/api/auth/orgs/${orgId}`, undefined],
    ];
    for (const [token, method, path, body] of denied) {
      const res = await call(token, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.json).toMatchObject({ error: { code: 'ORG_FORBIDDEN' } });
    }
    expect((await call(outsider, 'PUT', `/api/auth/orgs/${orgId}/members/otto`, { role: 'admin' })).json).toMatchObject({ error: { code: 'ORG_NOT_FOUND' } });
    const members = (await call(owner, 'GET', `/api/auth/orgs/${orgId}/members`)).json;
    expect(members.map((m: any) => [m.user_id, m.role])).toEqual([
      ['olga', 'owner'],
      ['adam', 'admin'],
      ['mia', 'member'],
    ]);
    // What admins and owners may do.
    expect((await call(admin, 'PUT', `/api/auth/orgs/${orgId}/members/mia`, { role: 'admin' })).json).toMatchObject({ user_id: 'mia', role: 'admin' });
    expect((await call(admin, 'DELETE', `/api/auth/orgs/${orgId}/members/mia`)).json).toEqual({ removed: true });
    expect((await call(owner, 'PUT', `/api/auth/orgs/${orgId}/members/adam`, { role: 'owner' })).json).toMatchObject({ role: 'owner' });
    expect((await call(admin, 'DELETE', `/api/auth/orgs/${orgId}/members/olga`)).json).toEqual({ removed: true });
  });

  it('an org always keeps an owner; anyone else may leave', async () => {
    const last = await call(owner, 'DELETE', `/api/auth/orgs/${orgId}/members/olga`);
    expect(last.status).toBe(409);
    expect(last.json).toMatchObject({ error: { code: 'LAST_OWNER' } });
    expect((await call(owner, 'PUT', `/api/auth/orgs/${orgId}/members/olga`, { role: 'admin' })).json).toMatchObject({ error: { code: 'LAST_OWNER' } });
    expect((await call(owner, 'GET', `/api/auth/orgs/${orgId}`)).json.role).toBe('owner');
    expect((await call(member, 'DELETE', `/api/auth/orgs/${orgId}/members/mia`)).json).toEqual({ removed: true });
    expect((await call(member, 'GET', `/api/auth/orgs/${orgId}`)).status).toBe(404);
  });

  it('refuses bad input precisely', async () => {
    expect((await call(owner, 'POST', '/api/auth/orgs', { name: '' })).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['name'] } });
    expect((await call(owner, 'POST', '/api/auth/orgs', {})).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['name'] } });
    expect((await call(owner, 'PUT', `/api/auth/orgs/${orgId}/members/otto`, { role: 'king' })).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['role'] } });
    expect((await call(owner, 'PUT', `/api/auth/orgs/${orgId}/members/${encodeURIComponent('bad id')}`, { role: 'member' })).json).toMatchObject({
      error: { code: 'INVALID_DATA' },
    });
    expect((await call(owner, 'DELETE', `/api/auth/orgs/${orgId}/members/nobody`)).json).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await call(null, 'POST', '/api/auth/orgs', { name: 'x' })).json).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
    const key = (await call(owner, 'POST', '/api/auth/api-keys', {})).json.key;
    expect((await call(key, 'POST', '/api/auth/orgs', { name: 'x' })).json).toMatchObject({ error: { code: 'API_KEY_AUTH_FORBIDDEN' } });
    expect((await call(key, 'PUT', `/api/auth/orgs/${orgId}/members/otto`, { role: 'owner' })).json).toMatchObject({ error: { code: 'API_KEY_AUTH_FORBIDDEN' } });
    expect((await call(owner, 'GET', '/api/auth/orgs')).json).toHaveLength(1);
  });
});

describe('select-org: auth.tenantId and auth.orgRole in policies', () => {
  async function seedDocs(): Promise<void> {
    for (const [id, token, ownerId, tenantId] of [
      ['acme-doc', owner, 'olga', orgId],
      ['other-doc', outsider, 'otto', 'org_other'],
    ] as const) {
      expect((await call(token, 'POST', '/api/entities/Doc', { id, title: id, ownerId, tenantId })).status).toBe(201);
    }
  }

  it('sets the session tenant for members only; the role follows the membership on every request', async () => {
    await seedDocs();
    expect((await call(member, 'POST', '/api/auth/select-org', { orgId })).json).toEqual({ tenantId: orgId });
    expect((await call(member, 'GET', '/api/auth/me')).json).toMatchObject({ user_id: 'mia', tenant_id: orgId, org_role: 'member' });
    expect(await visibleDocs(t, member)).toEqual(['acme-doc']);
    // A member cannot delete (only owners and admins of the row's tenant can).
    expect((await call(member, 'DELETE', '/api/entities/Doc/acme-doc')).status).toBe(403);
    // Promoted: the next request sees the new role.
    await call(owner, 'PUT', `/api/auth/orgs/${orgId}/members/mia`, { role: 'admin' });
    expect((await call(member, 'GET', '/api/auth/me')).json).toMatchObject({ org_role: 'admin' });
    expect((await call(member, 'DELETE', '/api/entities/Doc/acme-doc')).status).toBe(200);
  });

  it('refuses non-members with NOT_A_MEMBER and leaves the session as it was', async () => {
    const res = await call(outsider, 'POST', '/api/auth/select-org', { orgId });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: { code: 'NOT_A_MEMBER' } });
    expect((await call(outsider, 'POST', '/api/auth/select-org', { orgId: 'org_other' })).json).toMatchObject({ error: { code: 'NOT_A_MEMBER' } });
    expect((await call(outsider, 'GET', '/api/auth/me')).json).toEqual({ user_id: 'otto', is_admin: false, roles: [] });
    expect((await call(outsider, 'POST', '/api/auth/select-org', { orgId: 5 })).json).toMatchObject({ error: { code: 'INVALID_DATA' } });
    expect((await call(outsider, 'POST', '/api/auth/select-org', {})).json).toMatchObject({ error: { code: 'INVALID_DATA' } });
  });

  it('removal from the org, or its deletion, takes the tenant away from the sessions that selected it', async () => {
    await seedDocs();
    await call(member, 'POST', '/api/auth/select-org', { org_id: orgId });
    await call(admin, 'POST', '/api/auth/select-org', { orgId });
    expect(await visibleDocs(t, member)).toEqual(['acme-doc']);
    await call(owner, 'DELETE', `/api/auth/orgs/${orgId}/members/mia`);
    expect((await call(member, 'GET', '/api/auth/me')).json).toEqual({ user_id: 'mia', is_admin: false, roles: [] });
    const denied = await call(member, 'GET', '/api/entities/Doc');
    expect(denied.json.data).toEqual([]);
    // Deleting the org clears it from every session that selected it.
    expect((await call(owner, 'DELETE', `/api/auth/orgs/${orgId}`)).json).toEqual({ deleted: true });
    expect((await call(admin, 'GET', '/api/auth/me')).json).toEqual({ user_id: 'adam', is_admin: false, roles: [] });
    expect((await call(owner, 'GET', `/api/auth/orgs/${orgId}`)).status).toBe(404);
  });

  it('null deselects; a socket opened after selecting reads as the member', async () => {
    await seedDocs();
    await call(member, 'POST', '/api/auth/select-org', { orgId });
    const { client } = await LiveClient.connect(t.url.replace('http', 'ws') + '/ws', { token: member });
    client.send({ type: 'subscribe', id: 's1', entity: 'Doc' });
    expect((await client.next('result')).rows.map((r: any) => r.id)).toEqual(['acme-doc']);
    client.close();
    expect((await call(member, 'POST', '/api/auth/select-org', { orgId: null })).json).toEqual({ tenantId: null });
    expect((await call(member, 'GET', '/api/auth/me')).json).not.toHaveProperty('tenant_id');
  });
});

describe('open sockets follow org changes', () => {
  const open = async (token: string): Promise<LiveClient> => {
    const { client } = await LiveClient.connect(t.url.replace('http', 'ws') + '/ws', { token });
    client.send({ type: 'subscribe', id: 's1', entity: 'Doc' });
    await client.next('result');
    return client;
  };
  const stillOpen = async (client: LiveClient): Promise<boolean> =>
    Promise.race([client.closed.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 300))]);

  beforeEach(async () => {
    expect((await call(owner, 'POST', '/api/entities/Doc', { id: 'acme-doc', title: 'acme', ownerId: 'olga', tenantId: orgId })).status).toBe(201);
    for (const token of [member, admin, owner]) expect((await call(token, 'POST', '/api/auth/select-org', { orgId })).status).toBe(200);
  });

  it('a removed member is disconnected (4012) and reconnects without the org; the others stay connected', async () => {
    const [mia, adam, otto] = [await open(member), await open(admin), await open(outsider)];
    await call(owner, 'DELETE', `/api/auth/orgs/${orgId}/members/mia`);
    expect(await mia.closed).toMatchObject({ code: 4012 });
    expect(await stillOpen(adam)).toBe(true);
    expect(await stillOpen(otto)).toBe(true);
    // The org's rows keep flowing to members only.
    await call(owner, 'PATCH', '/api/entities/Doc/acme-doc', { title: 'acme 2' });
    expect((await adam.next('diff')).changed.map((r: any) => r.title)).toEqual(['acme 2']);
    const again = await LiveClient.connect(t.url.replace('http', 'ws') + '/ws', { token: member });
    again.client.send({ type: 'subscribe', id: 's1', entity: 'Doc' });
    expect((await again.client.next('result')).rows).toEqual([]);
    for (const c of [adam, otto, again.client]) c.close();
  });

  it('a role change, another selected org and a deleted org each disconnect exactly the sockets they concern', async () => {
    const [mia, adam, olga] = [await open(member), await open(admin), await open(owner)];
    await call(owner, 'PUT', `/api/auth/orgs/${orgId}/members/adam`, { role: 'member' });
    expect(await adam.closed).toMatchObject({ code: 4012 });
    expect(await stillOpen(mia)).toBe(true);
    // Re-putting the same role, or selecting the org already selected, changes nothing and disconnects nobody.
    await call(owner, 'PUT', `/api/auth/orgs/${orgId}/members/mia`, { role: 'member' });
    await call(member, 'POST', '/api/auth/select-org', { orgId });
    expect(await stillOpen(mia)).toBe(true);
    await call(member, 'POST', '/api/auth/select-org', { orgId: null });
    expect(await mia.closed).toMatchObject({ code: 4012 });
    expect(await stillOpen(olga)).toBe(true);
    const adamAgain = await open(admin);
    await call(owner, 'DELETE', `/api/auth/orgs/${orgId}`);
    expect(await olga.closed).toMatchObject({ code: 4012 });
    expect(await adamAgain.closed).toMatchObject({ code: 4012 });
  });
});

describe('open SSE streams follow org changes and revocation', () => {
  /** Opens `/events` on Doc as `token`; `until(text)` reads until the stream holds `text`, or it ends. */
  const sse = async (token: string) => {
    const res = await fetch(`${t.url}/events?entity=Doc`, { headers: bearer(token) });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let ended = false;
    const until = async (wanted: string, timeoutMs = 5000): Promise<{ text: string; ended: boolean }> => {
      const deadline = Date.now() + timeoutMs;
      while (!text.includes(wanted) && !ended && Date.now() < deadline) {
        const chunk = await Promise.race([reader.read(), new Promise<null>((resolve) => setTimeout(() => resolve(null), Math.max(1, deadline - Date.now())))]);
        if (chunk === null) break;
        if (chunk.done) ended = true;
        else text += decoder.decode(chunk.value, { stream: true });
      }
      return { text, ended };
    };
    await until('event: result');
    return { until, cancel: () => reader.cancel() };
  };

  beforeEach(async () => {
    expect((await call(owner, 'POST', '/api/entities/Doc', { id: 'acme-doc', title: 'acme', ownerId: 'olga', tenantId: orgId })).status).toBe(201);
    for (const token of [member, admin]) expect((await call(token, 'POST', '/api/auth/select-org', { orgId })).status).toBe(200);
  });

  it("a removed member's stream ends with ACCESS_CHANGED; another member's keeps its diffs", async () => {
    const [mia, adam] = [await sse(member), await sse(admin)];
    await call(owner, 'DELETE', `/api/auth/orgs/${orgId}/members/mia`);
    const gone = await mia.until('never');
    expect(gone.ended).toBe(true);
    expect(gone.text).toContain('"code":"ACCESS_CHANGED"');
    await call(owner, 'PATCH', '/api/entities/Doc/acme-doc', { title: 'after' });
    const kept = await adam.until('"title":"after"');
    expect(kept.ended).toBe(false);
    expect(kept.text).not.toContain('ACCESS_CHANGED');
    await adam.cancel();
  });

  it("signing out ends the session's streams with UNAUTHORIZED", async () => {
    const mia = await sse(member);
    expect((await call(member, 'DELETE', '/api/auth/session')).status).toBeLessThan(300);
    const gone = await mia.until('never');
    expect(gone.ended).toBe(true);
    expect(gone.text).toContain('"code":"UNAUTHORIZED"');
  });
});

describe('invites', () => {
  it('admins invite; the token is shown once, accepted once, and gives the invited role', async () => {
    const created = await call(admin, 'POST', `/api/auth/orgs/${orgId}/invites`, { role: 'admin' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ org_id: orgId, role: 'admin', email: null, created_by: 'adam' });
    expect(created.json.token).toMatch(/^mast_inv_[A-Za-z0-9_-]{43}$/);
    const listed = await t.request('GET', `/api/auth/orgs/${orgId}/invites`, { headers: bearer(owner) });
    expect(listed.json).toEqual([expect.objectContaining({ id: created.json.id })]);
    expect(listed.text).not.toContain(created.json.token);
    const accepted = await call(outsider, 'POST', `/api/auth/invites/${created.json.token}/accept`);
    expect(accepted.json).toMatchObject({ org_id: orgId, user_id: 'otto', role: 'admin' });
    expect((await call(outsider, 'GET', `/api/auth/orgs/${orgId}`)).json.role).toBe('admin');
    expect((await call(owner, 'GET', `/api/auth/orgs/${orgId}/invites`)).json).toEqual([]);
    const again = await signIn(t, 'zoe');
    const replay = await call(again, 'POST', `/api/auth/invites/${created.json.token}/accept`);
    expect(replay.status).toBe(404);
    expect(replay.json).toMatchObject({ error: { code: 'INVALID_INVITE' } });
    expect((await call(again, 'GET', `/api/auth/orgs/${orgId}`)).status).toBe(404);
  });

  it('members cannot invite, admins cannot invite owners, and a revoked or expired invite is INVALID_INVITE', async () => {
    expect((await call(member, 'POST', `/api/auth/orgs/${orgId}/invites`, {})).json).toMatchObject({ error: { code: 'ORG_FORBIDDEN' } });
    expect((await call(member, 'GET', `/api/auth/orgs/${orgId}/invites`)).json).toMatchObject({ error: { code: 'ORG_FORBIDDEN' } });
    expect((await call(admin, 'POST', `/api/auth/orgs/${orgId}/invites`, { role: 'owner' })).json).toMatchObject({ error: { code: 'ORG_FORBIDDEN' } });
    expect((await call(admin, 'POST', `/api/auth/orgs/${orgId}/invites`, { role: 'boss' })).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['role'] } });
    expect((await call(admin, 'POST', `/api/auth/orgs/${orgId}/invites`, { email: 'not an email' })).json).toMatchObject({ error: { code: 'INVALID_EMAIL' } });
    const revoked = (await call(admin, 'POST', `/api/auth/orgs/${orgId}/invites`, {})).json;
    expect((await call(admin, 'DELETE', `/api/auth/orgs/${orgId}/invites/${revoked.id}`)).json).toEqual({ revoked: true });
    expect((await call(admin, 'DELETE', `/api/auth/orgs/${orgId}/invites/${revoked.id}`)).status).toBe(404);
    expect((await call(outsider, 'POST', `/api/auth/invites/${revoked.token}/accept`)).json).toMatchObject({ error: { code: 'INVALID_INVITE' } });
    const expiring = (await call(admin, 'POST', `/api/auth/orgs/${orgId}/invites`, {})).json;
    const stored = (await t.server.store.orgs.invites(orgId))[0]!;
    await t.server.store.orgs.deleteInvite(orgId, stored.id);
    await t.server.store.orgs.putInvite({ ...stored, expiresAt: Date.now() - 1 });
    expect((await call(outsider, 'POST', `/api/auth/invites/${expiring.token}/accept`)).json).toMatchObject({ error: { code: 'INVALID_INVITE' } });
    expect((await call(outsider, 'POST', `/api/auth/invites/mast_inv_forged/accept`)).json).toMatchObject({ error: { code: 'INVALID_INVITE' } });
    expect((await call(outsider, 'GET', `/api/auth/orgs/${orgId}`)).status).toBe(404);
  });

  it('an invite for an email is accepted only by the account that verified that email', async () => {
    const verified = await t.server.accounts.create({ email: 'vera@example.com', emailVerified: true });
    const unverified = await t.server.accounts.create({ email: 'uma@example.com' });
    const invite = (await call(admin, 'POST', `/api/auth/orgs/${orgId}/invites`, { email: ' Vera@Example.com ' })).json;
    expect(invite.email).toBe('vera@example.com');
    const forUma = (await call(admin, 'POST', `/api/auth/orgs/${orgId}/invites`, { email: 'uma@example.com' })).json;
    for (const [token, inviteToken] of [
      [outsider, invite.token],
      [await signIn(t, unverified.id), forUma.token],
    ] as const) {
      const res = await call(token, 'POST', `/api/auth/invites/${inviteToken}/accept`);
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: { code: 'INVITE_EMAIL_MISMATCH' } });
    }
    const vera = await signIn(t, verified.id);
    expect((await call(vera, 'POST', `/api/auth/invites/${invite.token}/accept`)).json).toMatchObject({ user_id: verified.id, role: 'member' });
  });

  it('deleting the org deletes its invites', async () => {
    const invite = (await call(owner, 'POST', `/api/auth/orgs/${orgId}/invites`, {})).json;
    await call(owner, 'DELETE', `/api/auth/orgs/${orgId}`);
    expect((await call(outsider, 'POST', `/api/auth/invites/${invite.token}/accept`)).json).toMatchObject({ error: { code: 'INVALID_INVITE' } });
    expect(await t.server.store.orgs.invites(orgId)).toEqual([]);
  });
});
