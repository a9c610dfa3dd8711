import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUTH_ADMIN, authManifest, bearer } from './helpers/auth-app.js';
import { FakeOidc } from './helpers/fake-oidc.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const APP = 'https://app.example';
const DONE = `${APP}/signed-in`;
const FAILED = `${APP}/sign-in-failed`;
const CLIENT_ID = 'mast-client';
const CLIENT_SECRET = 'mast-client-secret';

let fake: FakeOidc;
let t: TestServer;

beforeAll(async () => {
  fake = await FakeOidc.start(CLIENT_ID, CLIENT_SECRET);
});
afterAll(async () => {
  await fake.close();
});
beforeEach(async () => {
  fake.login = { sub: 'sub-1', email: 'Ann@Example.com', email_verified: true, name: 'Ann' };
  fake.authorizeRequests.length = 0;
  fake.tokenRequests.length = 0;
  t = await startTestServer(
    authManifest,
    { adminToken: AUTH_ADMIN, trustedOrigins: APP },
    {
      oauthProviders: [
        { id: 'corp', kind: 'oidc', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, issuer: fake.issuer, scopes: 'openid email profile' },
        { id: 'github', kind: 'github', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, scopes: 'read:user user:email', githubUrls: { web: fake.issuer, api: fake.issuer } },
      ],
    },
  );
});
afterEach(async () => {
  await t.close();
});

const enc = encodeURIComponent;

/** Starts a sign-in as a browser would; returns the provider URL, the state and the binding cookie. */
async function begin(provider = 'corp'): Promise<{ redirect: string; state: string; cookie: string }> {
  const res = await fetch(`${t.url}/api/auth/login/${provider}?callback=${enc(DONE)}&error_callback=${enc(FAILED)}`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { redirect: string; state: string };
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('mast_session_oauth='))!;
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/Path=\/api\/auth\/callback/);
  return { ...body, cookie: setCookie.split(';')[0]! };
}

/** The provider signs the user in and sends the browser back: the callback URL on Mast. */
async function authorize(redirect: string): Promise<string> {
  const res = await fetch(redirect, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return res.headers.get('location')!;
}

async function callback(url: string, cookie: string | null): Promise<{ status: number; location: URL | null; session: string | null; json: any }> {
  const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  const session =
    res.headers
      .getSetCookie()
      .find((c) => c.startsWith('mast_session='))
      ?.split(';')[0]
      ?.slice('mast_session='.length) || null;
  const text = await res.text();
  return { status: res.status, location: res.headers.get('location') ? new URL(res.headers.get('location')!) : null, session, json: text ? JSON.parse(text) : null };
}

async function signIn(provider = 'corp'): Promise<Awaited<ReturnType<typeof callback>>> {
  const { redirect, cookie } = await begin(provider);
  return callback(await authorize(redirect), cookie);
}

async function whoAmI(token: string): Promise<any> {
  return (await t.request('GET', '/api/auth/me', { headers: bearer(token) })).json;
}

function expectFailure(res: Awaited<ReturnType<typeof callback>>, code: string): void {
  expect(res.status).toBe(302);
  expect(res.session).toBeNull();
  expect(res.location!.origin + res.location!.pathname).toBe(FAILED);
  expect(res.location!.searchParams.get('oauth_error')).toBe(code);
}

describe('OIDC sign-in (authorization code + PKCE)', () => {
  it('lists providers and sends the browser to the provider with state, nonce and an S256 challenge', async () => {
    expect((await t.request('GET', '/api/auth/providers')).json).toEqual([
      { provider: 'corp', auth_url: '/api/auth/login/corp' },
      { provider: 'github', auth_url: '/api/auth/login/github' },
    ]);
    const { redirect, state } = await begin();
    const url = new URL(redirect);
    expect(url.origin + url.pathname).toBe(`${fake.issuer}/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: `${t.url}/api/auth/callback/corp`,
      scope: 'openid email profile',
      state,
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('nonce')!.length).toBeGreaterThanOrEqual(32);
    const direct = await fetch(`${t.url}/api/auth/login/corp?callback=${enc(DONE)}&redirect=1`, { redirect: 'manual' });
    expect(direct.status).toBe(302);
    expect(direct.headers.get('location')).toContain(`${fake.issuer}/authorize?`);
  });

  it('creates an account for a verified email, links the identity, and signs in to the same account again', async () => {
    const first = await signIn();
    expect(first.status).toBe(302);
    expect(first.location!.href).toBe(DONE);
    expect(fake.tokenRequests.at(-1)!.verifierMatched).toBe(true);
    const me = await whoAmI(first.session!);
    const account = (await t.server.accounts.findByEmail('ann@example.com'))!;
    expect(me).toMatchObject({ user_id: account.id, is_admin: false });
    expect(account.emailVerified).toBe(true);
    expect((await t.server.accounts.findIdentity('corp', 'sub-1'))?.userId).toBe(account.id);
    // The email may change at the provider: the link, not the email, finds the account.
    fake.login = { sub: 'sub-1', email: 'other@example.com', email_verified: false };
    const again = await signIn();
    expect((await whoAmI(again.session!)).user_id).toBe(account.id);
  });

  it('links to an existing account by a verified email', async () => {
    const account = await t.server.accounts.create({ email: 'ann@example.com', emailVerified: true });
    const res = await signIn();
    expect((await whoAmI(res.session!)).user_id).toBe(account.id);
  });

  it('takes an address squatted by an unverified account away from its registrant: password and sessions go', async () => {
    const squatted = await t.server.accounts.create({ email: 'ann@example.com', passwordHash: 'scrypt$placeholder' });
    const squatter = (await t.request('POST', '/api/auth/session', { body: { user_id: squatted.id }, headers: bearer(AUTH_ADMIN) })).json as any;
    const res = await signIn();
    expect((await whoAmI(res.session!)).user_id).toBe(squatted.id);
    const after = (await t.server.accounts.get(squatted.id))!;
    expect(after).toMatchObject({ emailVerified: true, hasPassword: false });
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(squatter.token) })).status).toBe(401);
  });

  it('never links or signs up with an email the provider has not verified', async () => {
    const account = await t.server.accounts.create({ email: 'ann@example.com', emailVerified: true });
    for (const login of [
      { sub: 'evil-1', email: 'ann@example.com', email_verified: false },
      { sub: 'evil-2', email: 'ann@example.com' },
      { sub: 'evil-3', email: 'new@example.com', email_verified: false },
      { sub: 'evil-4' },
    ]) {
      fake.login = login;
      expectFailure(await signIn(), 'OAUTH_EMAIL_UNVERIFIED');
      expect(await t.server.accounts.findIdentity('corp', login.sub)).toBeNull();
    }
    expect(await t.server.accounts.findByEmail('new@example.com')).toBeNull();
    expect((await t.server.accounts.get(account.id))?.id).toBe(account.id);
  });

  it('refuses an unknown state, a replayed state, and a callback from another browser', async () => {
    const forged = await callback(`${t.url}/api/auth/callback/corp?code=abc&state=forged`, null);
    expect(forged.status).toBe(403);
    expect(forged.json).toMatchObject({ error: { code: 'OAUTH_INVALID_STATE' } });

    const { redirect, cookie } = await begin();
    const back = await authorize(redirect);
    expect((await callback(back, cookie)).status).toBe(302);
    const replay = await callback(back, cookie);
    expect(replay.status).toBe(403);
    expect(replay.json).toMatchObject({ error: { code: 'OAUTH_INVALID_STATE' } });
    expect(replay.session).toBeNull();

    const other = await begin();
    const otherBack = await authorize(other.redirect);
    for (const wrongCookie of [null, 'mast_session_oauth=someone-elses-binding', cookie]) {
      const res = await callback(otherBack, wrongCookie);
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({ error: { code: 'OAUTH_INVALID_STATE' } });
    }
    // The state is spent by the first wrong attempt: the right browser cannot use it afterwards.
    expect((await callback(otherBack, other.cookie)).status).toBe(403);

    const wrongProvider = await begin();
    const onGithub = (await authorize(wrongProvider.redirect)).replace('/callback/corp', '/callback/github');
    expect((await callback(onGithub, wrongProvider.cookie)).json).toMatchObject({ error: { code: 'OAUTH_INVALID_STATE' } });
  });

  it('a stolen code cannot be redeemed in another sign-in: the PKCE verifier does not match', async () => {
    const victim = await begin();
    const stolenCode = new URL(await authorize(victim.redirect)).searchParams.get('code')!;
    const attacker = await begin();
    await authorize(attacker.redirect); // the attacker's own code is not used
    const injected = `${t.url}/api/auth/callback/corp?code=${stolenCode}&state=${enc(attacker.state)}`;
    const res = await callback(injected, attacker.cookie);
    expectFailure(res, 'OAUTH_FAILED');
    const last = fake.tokenRequests.at(-1)!;
    expect(last.params.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(last.verifierMatched).toBe(false);
  });

  const hostileTokens: Array<[string, Partial<import('./helpers/fake-oidc.js').FakeLogin>]> = [
    ['signed with a key the provider does not publish', { wrongKey: true }],
    ['for another audience', { audience: 'another-client' }],
    ['with another nonce', { nonce: 'not-the-nonce-we-sent' }],
    ['from another issuer', { issuer: 'https://evil.example' }],
  ];
  for (const [name, change] of hostileTokens) {
    it(`refuses an id_token ${name} (OAUTH_FAILED, no session, no account)`, async () => {
      fake.login = { ...fake.login, ...change };
      expectFailure(await signIn(), 'OAUTH_FAILED');
      expect(await t.server.accounts.findByEmail('ann@example.com')).toBeNull();
    });
  }

  it('a refusal at the provider goes to the error callback', async () => {
    const { state, cookie } = await begin();
    const res = await callback(`${t.url}/api/auth/callback/corp?error=access_denied&state=${enc(state)}`, cookie);
    expectFailure(res, 'OAUTH_FAILED');
    expect(res.location!.searchParams.get('oauth_error_message')).toContain('access_denied');
  });

  it('refuses untrusted or missing callbacks and unknown providers', async () => {
    const cases: Array<[string, number, string]> = [
      [`/api/auth/login/corp?callback=${enc('https://evil.example/x')}`, 403, 'UNTRUSTED_REDIRECT'],
      [`/api/auth/login/corp?callback=${enc(DONE)}&error_callback=${enc('https://evil.example/x')}`, 403, 'UNTRUSTED_REDIRECT'],
      [`/api/auth/login/corp?callback=${enc('javascript:alert(1)')}`, 403, 'UNTRUSTED_REDIRECT'],
      ['/api/auth/login/corp', 400, 'MISSING_CALLBACK'],
      [`/api/auth/login/nope?callback=${enc(DONE)}`, 404, 'PROVIDER_NOT_FOUND'],
      ['/api/auth/callback/nope?code=x&state=y', 404, 'PROVIDER_NOT_FOUND'],
    ];
    for (const [path, status, code] of cases) {
      const res = await t.request('GET', path);
      expect(res.status, path).toBe(status);
      expect(res.json).toMatchObject({ error: { code } });
    }
    // The server's own origin is always a valid callback.
    expect((await t.request('GET', `/api/auth/login/corp?callback=${enc(`${t.url}/app`)}`)).status).toBe(200);
  });
});

describe('GitHub sign-in', () => {
  it('signs in with the primary email only when GitHub marks it verified', async () => {
    fake.login = { sub: '4242', name: 'octo' };
    fake.githubEmails = [
      { email: 'octo@example.com', primary: true, verified: false },
      { email: 'octo-alt@example.com', primary: false, verified: true },
    ];
    expectFailure(await signIn('github'), 'OAUTH_EMAIL_UNVERIFIED');
    fake.githubEmails = [{ email: 'octo@example.com', primary: true, verified: true }];
    const res = await signIn('github');
    expect(res.location!.href).toBe(DONE);
    const account = (await t.server.accounts.findByEmail('octo@example.com'))!;
    expect((await whoAmI(res.session!)).user_id).toBe(account.id);
    expect((await t.server.accounts.findIdentity('github', '4242'))?.userId).toBe(account.id);
    expect(fake.tokenRequests.at(-1)!.verifierMatched).toBe(true);
  });
});

describe('an unreachable provider', () => {
  it('is 503 IDP_UNAVAILABLE at login, and the server keeps serving', async () => {
    const down = await FakeOidc.start(CLIENT_ID, CLIENT_SECRET);
    const issuer = down.issuer;
    await down.close();
    const s = await startTestServer(
      authManifest,
      { trustedOrigins: APP },
      {
        oauthProviders: [{ id: 'down', kind: 'oidc', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, issuer, scopes: 'openid email' }],
      },
    );
    try {
      const res = await s.request('GET', `/api/auth/login/down?callback=${enc(DONE)}`);
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({ error: { code: 'IDP_UNAVAILABLE' } });
      expect((await s.request('GET', '/health')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('a guest signing in with a provider', () => {
  it("keeps what the guest owned: the guest's rows move to the account and the guest session ends", async () => {
    const { testManifest } = await import('./helpers/test-server.js');
    const s = await startTestServer(
      testManifest,
      { trustedOrigins: APP },
      {
        oauthProviders: [{ id: 'corp', kind: 'oidc', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, issuer: fake.issuer, scopes: 'openid email profile' }],
      },
    );
    try {
      const guest = (await s.request('POST', '/api/auth/guest')).json as { token: string; user_id: string };
      const todo = await s.request('POST', '/api/entities/Todo', { body: { title: 'mine', done: false, ownerId: guest.user_id }, headers: bearer(guest.token) });
      expect(todo.status).toBe(201);
      const login = await fetch(`${s.url}/api/auth/login/corp?callback=${enc(DONE)}`, { headers: { cookie: `mast_session=${guest.token}` } });
      const { redirect } = (await login.json()) as { redirect: string };
      const binding = login.headers
        .getSetCookie()
        .find((c) => c.startsWith('mast_session_oauth='))!
        .split(';')[0]!;
      const back = await authorize(redirect);
      const res = await fetch(back, { redirect: 'manual', headers: { cookie: `mast_session=${guest.token}; ${binding}` } });
      expect(res.status).toBe(302);
      const session = res.headers
        .getSetCookie()
        .find((c) => c.startsWith('mast_session='))!
        .split(';')[0]!
        .slice('mast_session='.length);
      const account = (await s.server.accounts.findByEmail('ann@example.com'))!;
      expect(((await s.request('GET', '/api/auth/me', { headers: bearer(session) })).json as any).user_id).toBe(account.id);
      const row = (await s.request('GET', `/api/entities/Todo/${(todo.json as any).id}`, { headers: bearer(session) })).json as any;
      expect(row.ownerId).toBe(account.id);
      expect((await s.request('GET', '/api/auth/me', { headers: bearer(guest.token) })).status).toBe(401);
    } finally {
      await s.close();
    }
  });
});
