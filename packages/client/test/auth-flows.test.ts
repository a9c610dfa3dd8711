import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createClient, jwtAuth, jwtExpiry, type MastClient, type WebSocketConstructor } from '../src/index.js';
import type { FetchLike } from '../src/http.js';
import { AUTH_ADMIN, authManifest, bearer } from '../../../test/helpers/auth-app.js';
import { FakeOidc } from '../../../test/helpers/fake-oidc.js';
import { startTestServer, type TestServer } from '../../../test/helpers/test-server.js';
import { until } from './harness.js';

// Email verification, org selection, OAuth and bring-your-own JWTs, on one real server with a
// real (local) OpenID provider.
const APP = 'https://app.example';
const SECRET = 'a-jwt-secret-of-at-least-32-bytes!!';
const ISSUER = 'https://idp.example/';

let fake: FakeOidc;
let t: TestServer;
const clients: MastClient[] = [];

beforeAll(async () => {
  fake = await FakeOidc.start('mast-client', 'mast-secret');
  t = await startTestServer(
    authManifest,
    { adminToken: AUTH_ADMIN, dev: true, trustedOrigins: APP, jwtSecret: SECRET, jwtIssuer: ISSUER },
    { oauthProviders: [{ id: 'corp', kind: 'oidc', clientId: 'mast-client', clientSecret: 'mast-secret', issuer: fake.issuer, scopes: 'openid email profile' }] },
  );
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await t.close();
  await fake.close();
});

function client(options: Partial<Parameters<typeof createClient>[0]> = {}): MastClient {
  const c = createClient({ url: t.url, WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { baseMs: 20, maxMs: 200, pauseMs: 100 }, ...options });
  clients.push(c);
  return c;
}

async function lastCode(to: string): Promise<string> {
  const messages = ((await t.request('GET', `/api/auth/outbox?to=${encodeURIComponent(to)}`)).json as { messages: Array<{ text: string }> }).messages;
  return /\b(\d{6})\b/.exec(messages.at(-1)!.text)![1]!;
}

/**
 * A browser's cookie jar for the server's origin: `Set-Cookie` answers are kept, and a request
 * carries them only when it asks for credentials (as a cross-origin `fetch` in a browser does).
 */
function cookieJar(): { fetch: FetchLike; navigate: (url: string) => Promise<string>; header: () => string; has: (name: string) => boolean } {
  const jar = new Map<string, string>();
  const header = (): string => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (res: Response): void => {
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0]!;
      const i = pair.indexOf('=');
      const [name, value] = [pair.slice(0, i), pair.slice(i + 1)];
      if (value === '' || /Max-Age=0/i.test(c)) jar.delete(name);
      else jar.set(name, value);
    }
  };
  return {
    header,
    has: (name) => jar.has(name),
    fetch: async (url, init = {}) => {
      const headers = { ...init.headers, ...(init.credentials === 'include' && jar.size > 0 ? { cookie: header() } : {}) };
      const { credentials: _c, ...rest } = init;
      const res = await fetch(url, { ...rest, headers } as RequestInit);
      keep(res);
      return res;
    },
    // A top-level navigation: cookies for the server go along; redirects are followed by hand.
    navigate: async (start) => {
      let url = start;
      for (let i = 0; i < 10; i++) {
        const res = await fetch(url, { redirect: 'manual', headers: url.startsWith(t.url) && jar.size > 0 ? { cookie: header() } : {} });
        if (url.startsWith(t.url)) keep(res);
        const location = res.headers.get('location');
        if (res.status !== 302 || !location) return url;
        url = new URL(location, url).toString();
        if (url.startsWith(APP)) return url;
      }
      throw new Error('too many redirects');
    },
  };
}

describe('auth helpers for verification, orgs, OAuth and JWTs', () => {
  it('verifies the signed-in email with the emailed code, and refuses a wrong code', async () => {
    const c = client();
    await c.auth.register({ email: 'vera@example.com', password: 'correct horse battery' });
    expect(await c.auth.sendEmailVerification()).toEqual({ email: 'vera@example.com', sent: true });
    await expect(c.auth.verifyEmail('000000')).rejects.toMatchObject({ code: expect.stringMatching(/INVALID|CODE/) });
    const { emailVerified } = await c.auth.verifyEmail(await lastCode('vera@example.com'));
    expect(Number.isNaN(Date.parse(emailVerified))).toBe(false);
    expect(await c.auth.sendEmailVerification()).toMatchObject({ sent: false });
    // Anonymous: the server's refusal reaches the caller.
    await c.auth.signOut();
    await expect(c.auth.sendEmailVerification()).rejects.toMatchObject({ status: 401 });
  });

  it('lists, creates and selects orgs; another org drops the cached rows and resubscribes', async () => {
    const c = client();
    const me = await c.auth.register({ email: 'olga@example.com', password: 'correct horse battery' });
    await c.connected();
    expect(await c.auth.orgs()).toEqual([]);
    const org = await c.auth.createOrg('Acme');
    expect(org).toMatchObject({ name: 'Acme', role: 'owner' });
    expect((await c.auth.orgs()).map((o) => o.id)).toEqual([org.id]);
    // A doc of the org that Olga does not own: visible only with the org selected.
    const filed = await t.request('POST', '/api/entities/Doc', { body: { title: 'org doc', ownerId: 'someone-else', tenantId: org.id }, headers: bearer(AUTH_ADMIN) });
    expect(filed.status).toBe(201);
    await c.insert('Doc', { title: 'mine', ownerId: me.userId });
    const docs = c.query('Doc', { $order: { title: 'asc' } });
    await until(() => !docs.loading && docs.rows.length === 1 && c.status.pendingWrites === 0, 'her own doc');

    expect(await c.auth.selectOrg(org.id)).toEqual({ tenantId: org.id });
    expect(c.tenantId).toBe(org.id);
    expect(c.userId).toBe(me.userId);
    await until(() => docs.rows.map((r) => r.title).join() === 'mine,org doc' && c.status.state === 'open', 'the org doc after selecting the org');

    await expect(c.auth.selectOrg('org_nope')).rejects.toMatchObject({ code: 'NOT_A_MEMBER' });
    expect(c.tenantId).toBe(org.id);
    await c.auth.selectOrg(null);
    expect(c.tenantId).toBeNull();
    await until(() => docs.rows.map((r) => r.title).join() === 'mine', 'the org doc gone with the org unselected');
    docs.close();
  });

  it('signs in through OAuth: login URL, provider, callback page, then a cookie session on HTTP and the socket', async () => {
    fake.login = { sub: 'oauth-sub-1', email: 'otto@example.com', email_verified: true, name: 'Otto' };
    const jar = cookieJar();
    // A socket carries the browser's cookies on its upgrade.
    class JarSocket extends WebSocket {
      constructor(url: string, protocols?: string[]) {
        super(url, protocols, { headers: { cookie: jar.header() } });
      }
    }
    const c = client({ fetch: jar.fetch, WebSocket: JarSocket as unknown as WebSocketConstructor });
    await c.connected();
    expect(c.userId).toBeNull();
    expect(await c.auth.providers()).toEqual(['corp']);

    const login = c.auth.oauthLoginUrl('corp', { callback: `${APP}/signed-in`, errorCallback: `${APP}/failed` });
    expect(login).toBe(`${t.url}/api/auth/login/corp?callback=${encodeURIComponent(`${APP}/signed-in`)}&error_callback=${encodeURIComponent(`${APP}/failed`)}&redirect=1`);
    const back = await jar.navigate(login);
    expect(back).toBe(`${APP}/signed-in`);
    expect(jar.has('mast_session')).toBe(true);

    const { userId } = await c.auth.completeOAuth(back);
    expect(c.userId).toBe(userId);
    await until(() => c.status.state === 'open', 'the socket under the cookie session');
    // Writes and live reads run as that user over the cookie.
    await c.insert('Doc', { title: 'by otto', ownerId: userId });
    const docs = c.query('Doc');
    await until(() => docs.rows.some((r) => r.title === 'by otto'), 'the live row');
    docs.close();

    await c.auth.signOut();
    expect(c.userId).toBeNull();
    expect(jar.has('mast_session')).toBe(false);

    // A failure the server put into the callback URL reaches the caller with its code.
    await expect(c.auth.completeOAuth(`${APP}/failed?oauth_error=OAUTH_EMAIL_UNVERIFIED&oauth_error_message=The+provider+did+not+verify+the+email`)).rejects.toMatchObject({
      code: 'OAUTH_EMAIL_UNVERIFIED',
      message: 'The provider did not verify the email',
    });
    fake.login = { sub: 'oauth-sub-2', email: 'unverified@example.com', email_verified: false, name: 'U' };
    const failed = await jar.navigate(c.auth.oauthLoginUrl('corp', { callback: `${APP}/signed-in`, errorCallback: `${APP}/failed` }));
    expect(failed.startsWith(`${APP}/failed?`)).toBe(true);
    await expect(c.auth.completeOAuth(failed)).rejects.toMatchObject({ code: 'OAUTH_EMAIL_UNVERIFIED' });
    expect(c.userId).toBeNull();
  });

  it('uses JWTs from the app’s own provider: reuses one until near its expiry, fetches a new one after the server refused one', async () => {
    const key = new TextEncoder().encode(SECRET);
    const sign = (sub: string, exp: number, signingKey = key) =>
      new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setSubject(sub).setIssuedAt().setExpirationTime(exp).sign(signingKey);
    const calls: boolean[] = [];
    let bad = true;
    const provider = jwtAuth(async ({ forceRefresh }) => {
      calls.push(forceRefresh);
      const exp = Math.floor(Date.now() / 1000) + 600;
      // The first token is signed with another key: the server refuses the socket (4001).
      if (bad) {
        bad = false;
        return sign('jwt-user', exp, new TextEncoder().encode('x'.repeat(40)));
      }
      return sign('jwt-user', exp);
    });
    const c = client({ auth: provider });
    await until(() => c.status.state === 'open' && c.userId === 'jwt-user', 'the socket under the good JWT', 10_000);
    expect(calls[0]).toBe(false);
    expect(calls).toContain(true);
    const fetched = calls.length;
    await c.insert('Doc', { title: 'by jwt', ownerId: 'jwt-user' });
    // Reconnects reuse the cached JWT while it is far from expiry.
    await c.setAuth(provider);
    await c.connected();
    expect(calls.length).toBe(fetched);

    let clock = Date.now();
    let n = 0;
    const short = jwtAuth(() => `h.${btoa(JSON.stringify({ exp: Math.floor(clock / 1000) + 60, n: ++n }))}.s`, { refreshBeforeMs: 30_000, now: () => clock });
    const first = await short({ reason: 'connect' });
    expect(await short({ reason: 'connect' })).toBe(first);
    clock += 31_000; // within 30 s of expiry: fetched anew
    expect(await short({ reason: 'connect' })).not.toBe(first);
    expect(jwtExpiry('not a jwt')).toBeNull();
  });
});
