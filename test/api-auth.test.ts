import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

const ADMIN = 'admin-token-for-auth-tests';
let t: TestServer;
beforeEach(async () => {
  t = await startTestServer(testManifest, { adminToken: ADMIN, trustedOrigins: 'https://app.example' });
});
afterEach(async () => {
  await t.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function mint(body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  const res = await t.request('POST', '/api/auth/session', { body, headers: bearer(ADMIN) });
  return { status: res.status, json: res.json };
}

describe('sessions', () => {
  it('an admin mints a session whose token resolves to that user, roles and tenant', async () => {
    const { status, json } = await mint({ user_id: 'u1', roles: ['editor'], tenant_id: 'org-1' });
    expect(status).toBe(201);
    expect(json.token).toMatch(/^mast_[0-9a-f]{64}$/);
    expect(json.user_id).toBe('u1');
    expect(Date.parse(json.expires_at)).toBeGreaterThan(Date.now());
    const me = await t.request('GET', '/api/auth/me', { headers: bearer(json.token) });
    expect(me.json).toEqual({ user_id: 'u1', is_admin: false, roles: ['editor'], tenant_id: 'org-1' });
  });

  it('stores only the hash of the token', async () => {
    const { json } = await mint({ user_id: 'u1' });
    const row = await t.server.store.sessions.find(json.token);
    expect(row).toBeNull();
    const { createHash } = await import('node:crypto');
    expect(await t.server.store.sessions.find(createHash('sha256').update(json.token).digest('hex'))).toMatchObject({ userId: 'u1' });
  });

  it('minting needs the admin token outside dev mode and a valid body', async () => {
    expect((await t.request('POST', '/api/auth/session', { body: { user_id: 'u1' } })).json).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect((await mint({})).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['user_id'] } });
    expect((await mint({ user_id: 'has space' })).json).toMatchObject({ error: { code: 'INVALID_DATA' } });
    expect((await mint({ user_id: 'u1', roles: 'admin' })).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['roles'] } });
    expect((await mint({ user_id: 'u1', expires_in: -5 })).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['expires_in'] } });
  });

  it('anonymous callers are anonymous; the admin token is admin', async () => {
    expect((await t.request('GET', '/api/auth/me')).json).toEqual({ user_id: null, is_admin: false, roles: [] });
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(ADMIN) })).json).toMatchObject({ user_id: '__admin__', is_admin: true });
  });

  it('a forged, unknown or malformed token is 401, never silently anonymous', async () => {
    for (const token of ['mast_' + '0'.repeat(64), 'not-a-mast-token', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9.']) {
      const res = await t.request('GET', '/api/entities/Todo', { headers: bearer(token) });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error: { code: 'INVALID_TOKEN' } });
      expect(res.text).not.toContain(token);
    }
  });

  it('an expired session is 401 SESSION_EXPIRED', async () => {
    const { json } = await mint({ user_id: 'u1', expires_in: 1 });
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update(json.token).digest('hex');
    const row = (await t.server.store.sessions.find(hash))!;
    await t.server.store.sessions.revoke(hash);
    await t.server.store.sessions.create({ ...row, expiresAt: Date.now() - 1 });
    const res = await t.request('GET', '/api/auth/me', { headers: bearer(json.token) });
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error: { code: 'SESSION_EXPIRED' } });
  });

  it('sign-out revokes the session for good and notifies listeners', async () => {
    const { json } = await mint({ user_id: 'u1' });
    const revoked: unknown[] = [];
    t.server.sessions.onRevoke((e) => revoked.push(e));
    const out = await t.request('DELETE', '/api/auth/session', { headers: bearer(json.token) });
    expect(out.json).toEqual({ signed_out: true });
    expect(revoked).toHaveLength(1);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(json.token) })).status).toBe(401);
    expect((await t.request('DELETE', '/api/auth/session')).json).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
  });

  it('guests get a guest session', async () => {
    const res = await t.request('POST', '/api/auth/guest');
    expect(res.status).toBe(201);
    const body = res.json as any;
    expect(body).toMatchObject({ guest: true });
    expect(body.user_id).toMatch(/^guest_[0-9a-f]{32}$/);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(body.token) })).json).toEqual({ user_id: body.user_id, is_admin: false, is_guest: true, roles: [] });
  });

  it('the session cookie authenticates, is HttpOnly, and cross-origin writes with it are rejected', async () => {
    const res = await t.request('POST', '/api/auth/guest', { headers: { origin: 'https://app.example' } });
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^mast_session=mast_[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/);
    const cookie = setCookie.split(';')[0]!;
    expect((await t.request('GET', '/api/auth/me', { headers: { cookie } })).json).toMatchObject({ is_guest: true });
    const evil = await t.request('POST', '/api/entities/Todo', { body: { title: 'x', done: false }, headers: { cookie, origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    expect(evil.json).toMatchObject({ error: { code: 'CSRF_REJECTED' } });
    const evilReferer = await t.request('POST', '/api/entities/Todo', { body: { title: 'x', done: false }, headers: { cookie, referer: 'https://evil.example/page' } });
    expect(evilReferer.status).toBe(403);
    const trusted = await t.request('POST', '/api/entities/Todo', { body: { title: 'x', done: false }, headers: { cookie, origin: 'https://app.example' } });
    expect(trusted.status).toBe(201);
    expect(((await t.request('GET', '/api/entities/Todo')).json as any).count).toBe(1);
    const tampered = await t.request('GET', '/api/auth/me', { headers: { cookie: cookie.slice(0, -2) + 'ff' } });
    expect(tampered.status).toBe(401);
  });
});

describe('sign-out and open sockets', () => {
  it("closes the signed-out session's sockets with 4001 and leaves other sessions' sockets open", async () => {
    const { LiveClient } = await import('./helpers/live-client.js');
    const a = (await mint({ user_id: 'u1' })).json.token as string;
    const b = (await mint({ user_id: 'u1' })).json.token as string;
    const wsUrl = t.url.replace('http', 'ws') + '/ws';
    const { client: first } = await LiveClient.connect(wsUrl, { token: a });
    const { client: second } = await LiveClient.connect(wsUrl, { token: b });
    await t.request('DELETE', '/api/auth/session', { headers: bearer(a) });
    expect((await first.closed).code).toBe(4001);
    await t.server.sessions.revokeUser('u1');
    expect((await second.closed).code).toBe(4001);
  });
});
