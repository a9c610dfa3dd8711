import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileManifest } from '@mast/schema';
import { loadConfig, MastServer } from '@mast/server';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_ADMIN, authManifest, bearer, signIn, visibleDocs } from './helpers/auth-app.js';
import { LiveClient } from './helpers/live-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const ISSUER = 'https://idp.example';
const AUDIENCE = 'mast-tests';

/** A JWKS served over HTTP by the test: the issuer's side, not the thing under test. */
async function serveJwks(keys: JWK[]): Promise<{ url: string; server: Server; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, server, hits: () => hits };
}

let key: CryptoKey;
let publicPem: string;
let otherKey: CryptoKey;
let jwks: Awaited<ReturnType<typeof serveJwks>>;
let t: TestServer;

async function sign(
  claims: Record<string, unknown>,
  options: { key?: CryptoKey; kid?: string; alg?: string; expiresIn?: string | number; issuer?: string; audience?: string } = {},
): Promise<string> {
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'k1' })
    .setIssuedAt()
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE);
  if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(options.expiresIn);
  else jwt = jwt.setExpirationTime('10m');
  return jwt.sign(options.key ?? key);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  publicPem = await exportSPKI(pair.publicKey);
  ({ privateKey: otherKey } = await generateKeyPair('RS256'));
  jwks = await serveJwks([{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }]);
  t = await startTestServer(authManifest, { adminToken: AUTH_ADMIN, jwtJwksUrl: jwks.url, jwtIssuer: ISSUER, jwtAudience: AUDIENCE });
  const alice = await signIn(t, 'alice');
  const bob = await signIn(t, 'bob');
  for (const [id, owner, token, tenantId] of [
    ['a1', 'alice', alice, 'acme'],
    ['b1', 'bob', bob, 'globex'],
  ] as const) {
    expect((await t.request('POST', '/api/entities/Doc', { body: { id, title: id, ownerId: owner, tenantId }, headers: bearer(token) })).status).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
  jwks?.server.close();
});

async function me(token: string): Promise<{ status: number; json: any }> {
  const res = await t.request('GET', '/api/auth/me', { headers: bearer(token) });
  return { status: res.status, json: res.json };
}

describe('bring-your-own JWT (JWKS)', () => {
  it('a valid token becomes the caller: sub, roles, tenant and org role, seen by policies', async () => {
    const token = await sign({ sub: 'bob', roles: ['editor'], tenant_id: 'acme', org_role: 'member' });
    expect(await me(token)).toEqual({ status: 200, json: { user_id: 'bob', is_admin: false, roles: ['editor'], tenant_id: 'acme', org_role: 'member' } });
    // bob owns b1; as a member of acme he also reads a1.
    expect(await visibleDocs(t, token)).toEqual(['a1', 'b1']);
    const noTenant = await sign({ sub: 'bob' });
    expect(await visibleDocs(t, noTenant)).toEqual(['b1']);
    expect(jwks.hits()).toBeGreaterThan(0);
  });

  it('works on the WebSocket; a bad token closes it with 4001', async () => {
    const wsUrl = t.url.replace('http', 'ws') + '/ws';
    const { client } = await LiveClient.connect(wsUrl, { token: await sign({ sub: 'alice' }) });
    client.send({ type: 'subscribe', id: 's1', entity: 'Doc' });
    expect((await client.next('result')).rows.map((r: any) => r.id)).toEqual(['a1']);
    client.close();
    const bad = await LiveClient.open(wsUrl, { token: await sign({ sub: 'alice' }, { key: otherKey }) });
    expect((await bad.closed).code).toBe(4001);
  });

  const refused: Array<[string, () => Promise<string>, string]> = [
    ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 })}.`, 'algorithm'],
    [
      'HS256 with the public key as secret',
      async () => {
        const pem = publicPem;
        return new SignJWT({ sub: 'alice' })
          .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('10m')
          .sign(new TextEncoder().encode(pem));
      },
      'algorithm',
    ],
    ['signed with another key under the same kid', () => sign({ sub: 'alice' }, { key: otherKey }), 'signature'],
    ['signed with a key the JWKS does not have', () => sign({ sub: 'alice' }, { key: otherKey, kid: 'k2' }), 'No key'],
    ['another issuer', () => sign({ sub: 'alice' }, { issuer: 'https://evil.example' }), 'issuer'],
    ['another audience', () => sign({ sub: 'alice' }, { audience: 'someone-else' }), 'audience'],
    ['expired past the clock skew', () => sign({ sub: 'alice' }, { expiresIn: Math.floor(Date.now() / 1000) - 120 }), 'expired'],
    [
      'not valid yet',
      async () =>
        new SignJWT({ sub: 'alice' })
          .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('1h')
          .setNotBefore(Math.floor(Date.now() / 1000) + 600)
          .sign(key),
      'not valid yet',
    ],
    ['without exp', async () => new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).sign(key), '"exp"'],
    ['without sub', () => sign({ name: 'x' }), '"sub"'],
    ['with a sub that is no user id', () => sign({ sub: 'has space' }), '"sub"'],
    ['with roles that are not a list of names', () => sign({ sub: 'alice', roles: 'admin' }), '"roles"'],
    [
      'with a tampered payload',
      async () => {
        const [h, , s] = (await sign({ sub: 'bob' })).split('.');
        return `${h}.${b64({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 })}.${s}`;
      },
      'signature',
    ],
  ];
  for (const [name, make, message] of refused) {
    it(`refuses a token ${name} with 401 INVALID_JWT`, async () => {
      const res = await me(await make());
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('INVALID_JWT');
      expect(res.json.error.message).toContain(message);
    });
  }

  it('accepts a token expired within the clock skew', async () => {
    const res = await me(await sign({ sub: 'alice' }, { expiresIn: Math.floor(Date.now() / 1000) - 5 }));
    expect(res.json).toMatchObject({ user_id: 'alice' });
  });

  it('a JWT cannot manage API keys or select an org (no session behind it)', async () => {
    const token = await sign({ sub: 'alice' });
    expect((await t.request('POST', '/api/auth/select-org', { body: { orgId: null }, headers: bearer(token) })).json).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
    expect((await t.request('DELETE', '/api/auth/session', { headers: bearer(token) })).json).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
  });
});

describe('JWT configuration', () => {
  async function create(overrides: Record<string, unknown>): Promise<MastServer> {
    const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: ':memory:', ...overrides });
    return MastServer.create({ appDir: '/nonexistent-mast-app', schema: compileManifest(authManifest), config });
  }

  it('refuses a half-done configuration at start', async () => {
    await expect(create({ jwtJwksUrl: jwks.url })).rejects.toThrow(/MAST_JWT_ISSUER/);
    await expect(create({ jwtSecret: 'short', jwtIssuer: ISSUER })).rejects.toThrow(/32 bytes/);
    await expect(create({ jwtSecret: 'x'.repeat(32), jwtJwksUrl: jwks.url, jwtIssuer: ISSUER })).rejects.toThrow(/only one/);
    await expect(create({ jwtJwksUrl: jwks.url, jwtIssuer: ISSUER, jwtAlgorithms: 'RS256,none' })).rejects.toThrow(/none/);
    await expect(create({ jwtJwksUrl: jwks.url, jwtIssuer: ISSUER, jwtAlgorithms: 'HS256' })).rejects.toThrow(/HS256/);
    await expect(create({ jwtJwksUrl: 'http://idp.example/jwks', jwtIssuer: ISSUER })).rejects.toThrow(/https/);
    await expect(create({ jwtJwksUrl: jwks.url, jwtIssuer: ISSUER, jwtClaims: 'email=sub' })).rejects.toThrow(/MAST_JWT_CLAIMS/);
  });

  it('a shared secret accepts HS256 tokens only, with mapped claims', async () => {
    const secret = 'a-shared-secret-of-at-least-32-bytes!';
    const s = await startTestServer(authManifest, { jwtSecret: secret, jwtIssuer: ISSUER, jwtClaims: 'userId=uid,roles=https://example.com/roles' });
    try {
      const hs = await new SignJWT({ uid: 'carol', 'https://example.com/roles': ['ops'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(ISSUER)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
      expect((await s.request('GET', '/api/auth/me', { headers: bearer(hs) })).json).toEqual({ user_id: 'carol', is_admin: false, roles: ['ops'] });
      const wrong = await new SignJWT({ uid: 'carol' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(ISSUER)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(`${secret}x`));
      expect((await s.request('GET', '/api/auth/me', { headers: bearer(wrong) })).json).toMatchObject({
        error: { code: 'INVALID_JWT', message: expect.stringContaining('signature') },
      });
      const rs = await new SignJWT({ uid: 'carol' }).setProtectedHeader({ alg: 'RS256' }).setIssuer(ISSUER).setExpirationTime('5m').sign(key);
      expect((await s.request('GET', '/api/auth/me', { headers: bearer(rs) })).json).toMatchObject({
        error: { code: 'INVALID_JWT', message: expect.stringContaining('algorithm') },
      });
    } finally {
      await s.close();
    }
  });

  it('a PEM public key verifies without a JWKS', async () => {
    const s = await startTestServer(authManifest, { jwtPublicKey: publicPem, jwtIssuer: ISSUER, jwtAudience: AUDIENCE });
    try {
      expect((await s.request('GET', '/api/auth/me', { headers: bearer(await sign({ sub: 'dave' })) })).json).toMatchObject({ user_id: 'dave' });
      expect((await s.request('GET', '/api/auth/me', { headers: bearer(await sign({ sub: 'dave' }, { key: otherKey })) })).status).toBe(401);
    } finally {
      await s.close();
    }
  });

  it('an unreachable JWKS is 503 IDP_UNAVAILABLE, and the server keeps serving', async () => {
    const dead = await serveJwks([]);
    const url = dead.url;
    await new Promise((resolve) => dead.server.close(resolve));
    const s = await startTestServer(authManifest, { jwtJwksUrl: url, jwtIssuer: ISSUER, jwtAudience: AUDIENCE });
    try {
      const res = await s.request('GET', '/api/auth/me', { headers: bearer(await sign({ sub: 'erin' })) });
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({ error: { code: 'IDP_UNAVAILABLE' } });
      expect((await s.request('GET', '/health')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
