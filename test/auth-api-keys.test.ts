import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH_ADMIN, authManifest, bearer, signIn, visibleDocs } from './helpers/auth-app.js';
import { LiveClient } from './helpers/live-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

let t: TestServer;
let alice: string;
let bob: string;
beforeEach(async () => {
  t = await startTestServer(authManifest, { adminToken: AUTH_ADMIN });
  alice = await signIn(t, 'alice');
  bob = await signIn(t, 'bob');
});
afterEach(async () => {
  await t.close();
});

const KEY = /^mast_key_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

async function createKey(token: string, body: Record<string, unknown> = {}): Promise<{ status: number; json: any }> {
  const res = await t.request('POST', '/api/auth/api-keys', { body, headers: bearer(token) });
  return { status: res.status, json: res.json };
}

async function insertDoc(token: string, id: string, ownerId: string): Promise<number> {
  return (await t.request('POST', '/api/entities/Doc', { body: { id, title: id, ownerId }, headers: bearer(token) })).status;
}

describe('API keys', () => {
  it('are shown once, stored as a SHA-256 hash, and listed without their secret', async () => {
    const { status, json } = await createKey(alice, { name: 'ci', scopes: ['read', 'write'] });
    expect(status).toBe(201);
    const [, id, secret] = KEY.exec(json.key)!;
    expect(json).toMatchObject({ id, prefix: `mast_key_${id}`, name: 'ci', scopes: ['read', 'write'], expires_at: null, last_used_at: null });
    const stored = (await t.server.store.apiKeys.find(id!))!;
    expect(stored.secretHash).toBe(createHash('sha256').update(secret!).digest('hex'));
    const list = await t.request('GET', '/api/auth/api-keys', { headers: bearer(alice) });
    expect(list.json).toEqual([expect.objectContaining({ id, name: 'ci' })]);
    expect(list.text).not.toContain(secret);
    expect(list.text).not.toContain(stored.secretHash);
    // The database file never holds the secret.
    await t.server.close();
    expect(readFileSync(join(t.dir, 'test.db')).includes(Buffer.from(secret!))).toBe(false);
    t = await startTestServer(authManifest, { adminToken: AUTH_ADMIN });
  });

  it('authenticate as their owner on HTTP, with a read-write key able to write', async () => {
    const { json } = await createKey(alice);
    expect(json.scopes).toEqual(['read', 'write']);
    const me = await t.request('GET', '/api/auth/me', { headers: bearer(json.key) });
    expect(me.json).toEqual({ user_id: 'alice', is_admin: false, roles: [], api_key_id: json.id, api_key_scopes: ['read', 'write'] });
    expect(await insertDoc(json.key, 'd1', 'alice')).toBe(201);
    expect(await insertDoc(json.key, 'd2', 'bob')).toBe(403); // policies see alice
    expect(await visibleDocs(t, json.key)).toEqual(['d1']);
    const listed = (await t.request('GET', '/api/auth/api-keys', { headers: bearer(alice) })).json as any[];
    expect(Date.parse(listed[0].last_used_at)).toBeGreaterThan(0);
  });

  it('a read-only key reads but every write is INSUFFICIENT_SCOPE and writes nothing', async () => {
    expect(await insertDoc(alice, 'd1', 'alice')).toBe(201);
    const { json } = await createKey(alice, { scopes: 'read' });
    expect(json.scopes).toEqual(['read']);
    expect(await visibleDocs(t, json.key)).toEqual(['d1']);
    const attempts = [
      t.request('POST', '/api/entities/Doc', { body: { id: 'd2', title: 'x', ownerId: 'alice' }, headers: bearer(json.key) }),
      t.request('PATCH', '/api/entities/Doc/d1', { body: { title: 'changed' }, headers: bearer(json.key) }),
      t.request('DELETE', '/api/entities/Doc/d1', { headers: bearer(json.key) }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status, res.text).toBe(403);
      expect(res.json).toMatchObject({ error: { code: 'INSUFFICIENT_SCOPE' } });
    }
    const batch = await t.request('POST', '/api/batch', {
      body: { operations: [{ op: 'insert', entity: 'Doc', data: { id: 'd3', title: 'x', ownerId: 'alice' } }] },
      headers: bearer(json.key),
    });
    expect(batch.json).toMatchObject({ succeeded: 0, results: [{ ok: false, code: 'INSUFFICIENT_SCOPE' }] });
    expect(await visibleDocs(t, alice)).toEqual(['d1']);
    const row = await t.request('GET', '/api/entities/Doc/d1', { headers: bearer(alice) });
    expect(row.json).toMatchObject({ title: 'd1' });
  });

  it('work on the WebSocket: the socket sees what the owner may read, and revoking the key closes it (4001)', async () => {
    expect(await insertDoc(alice, 'mine', 'alice')).toBe(201);
    expect(await insertDoc(bob, 'theirs', 'bob')).toBe(201);
    const { json } = await createKey(alice, { scopes: ['read'] });
    const { client } = await LiveClient.connect(t.url.replace('http', 'ws') + '/ws', { token: json.key });
    client.send({ type: 'subscribe', id: 's1', entity: 'Doc' });
    expect((await client.next('result')).rows.map((r: any) => r.id)).toEqual(['mine']);
    const revoke = await t.request('DELETE', `/api/auth/api-keys/${json.id}`, { headers: bearer(alice) });
    expect(revoke.json).toEqual({ revoked: true });
    expect((await client.closed).code).toBe(4001);
    const bad = await LiveClient.open(t.url.replace('http', 'ws') + '/ws', { token: json.key });
    expect((await bad.closed).code).toBe(4001);
  });

  it('a wrong, malformed, revoked or expired key is 401 INVALID_API_KEY, never anonymous', async () => {
    const { json } = await createKey(alice);
    const [, id, secret] = KEY.exec(json.key)!;
    const wrongSecret = `mast_key_${id}_${secret!.slice(0, -1)}${secret!.endsWith('A') ? 'B' : 'A'}`;
    const unknownId = `mast_key_${'0'.repeat(32)}_${secret}`;
    for (const token of [wrongSecret, unknownId, 'mast_key_short', `${json.key}x`]) {
      const res = await t.request('GET', '/api/auth/me', { headers: bearer(token) });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error: { code: 'INVALID_API_KEY' } });
      expect(res.text).not.toContain(secret);
    }
    // Expired: a key whose expiry has passed.
    const stored = (await t.server.store.apiKeys.find(id!))!;
    await t.server.store.apiKeys.revoke(id!, 'alice');
    await t.server.store.apiKeys.create({ ...stored, expiresAt: Date.now() - 1 });
    const expired = await t.request('GET', '/api/auth/me', { headers: bearer(json.key) });
    expect(expired.json).toMatchObject({ error: { code: 'INVALID_API_KEY', message: 'The API key has expired' } });
    // Revoked.
    await t.request('DELETE', `/api/auth/api-keys/${id}`, { headers: bearer(alice) });
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(json.key) })).json).toMatchObject({ error: { code: 'INVALID_API_KEY' } });
  });

  it("another user's key id is 404 and the key keeps working", async () => {
    const { json } = await createKey(alice);
    const res = await t.request('DELETE', `/api/auth/api-keys/${json.id}`, { headers: bearer(bob) });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await t.request('DELETE', `/api/auth/api-keys/${'f'.repeat(32)}`, { headers: bearer(bob) })).status).toBe(404);
    expect((await t.request('GET', '/api/auth/api-keys', { headers: bearer(bob) })).json).toEqual([]);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(json.key) })).json).toMatchObject({ user_id: 'alice' });
  });

  it('only a signed-in user manages keys: not a key, a guest, an anonymous caller or the admin token', async () => {
    const { json } = await createKey(alice);
    const guest = ((await t.request('POST', '/api/auth/guest')).json as any).token as string;
    const cases: Array<[string | null, string]> = [
      [json.key, 'API_KEY_AUTH_FORBIDDEN'],
      [guest, 'AUTH_REQUIRED'],
      [null, 'AUTH_REQUIRED'],
      [AUTH_ADMIN, 'FORBIDDEN'],
    ];
    for (const [token, code] of cases) {
      expect((await createKey(token as string)).json, String(code)).toMatchObject({ error: { code } });
      expect((await t.request('GET', '/api/auth/api-keys', { headers: bearer(token) })).json).toMatchObject({ error: { code } });
      expect((await t.request('DELETE', `/api/auth/api-keys/${json.id}`, { headers: bearer(token) })).json).toMatchObject({ error: { code } });
    }
    expect((await t.request('DELETE', '/api/auth/session', { headers: bearer(json.key) })).json).toMatchObject({ error: { code: 'API_KEY_AUTH_FORBIDDEN' } });
    expect((await t.request('GET', '/api/auth/api-keys', { headers: bearer(alice) })).json).toHaveLength(1);
  });

  it('refuses bad bodies with INVALID_DATA and creates nothing', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ scopes: ['root'] }, 'scopes'],
      [{ scopes: [] }, 'scopes'],
      [{ scopes: 5 }, 'scopes'],
      [{ name: 7 }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ expires_at: '2001-01-01T00:00:00Z' }, 'expires_at'],
      [{ expires_at: 'tomorrow' }, 'expires_at'],
      [{ expires_in: -5 }, 'expires_at'],
      [{ expires_in: 1.5 }, 'expires_in'],
      [{ expires_in: 10 ** 12 }, 'expires_in'],
    ];
    for (const [body, field] of bad) {
      const res = await createKey(alice, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json).toMatchObject({ error: { code: 'INVALID_DATA', fields: [field] } });
    }
    expect((await t.request('GET', '/api/auth/api-keys', { headers: bearer(alice) })).json).toEqual([]);
    const ok = await createKey(alice, { expires_in: 3600 });
    expect(Date.parse(ok.json.expires_at) - Date.now()).toBeGreaterThan(3_500_000);
    const pylon = await createKey(alice, { expires_at: Math.floor(Date.now() / 1000) + 60, scopes: 'read,write' });
    expect(pylon.json.scopes).toEqual(['read', 'write']);
  });
});

describe('rate limit of the key endpoints', () => {
  it('answers 429 RATE_LIMITED with Retry-After past MAST_AUTH_RATE_LIMIT', async () => {
    const limited = await startTestServer(authManifest, { adminToken: AUTH_ADMIN, authRateLimit: 3 });
    try {
      const token = await signIn(limited, 'carol');
      const statuses: number[] = [];
      let last: Awaited<ReturnType<TestServer['request']>> | undefined;
      for (let i = 0; i < 4; i++) {
        last = await limited.request('GET', '/api/auth/api-keys', { headers: bearer(token) });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(last!.json).toMatchObject({ error: { code: 'RATE_LIMITED' } });
      expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
      // Other endpoints are not counted against it.
      expect((await limited.request('GET', '/api/auth/me', { headers: bearer(token) })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
