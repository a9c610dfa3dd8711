import { afterEach, describe, expect, it } from 'vitest';
import type { MastConfig } from '@mast/server';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

let t: TestServer;
afterEach(async () => {
  await t?.close();
});

// Dev mode: mail goes to the outbox. trustProxy lets a test speak from several addresses.
async function start(overrides: Partial<MastConfig> = {}): Promise<TestServer> {
  t = await startTestServer(testManifest, { dev: true, trustProxy: 1, ...overrides });
  return t;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const from = (ip: string) => ({ 'x-forwarded-for': ip });
const PASSWORD = 'correct horse battery';

async function register(email: string, password = PASSWORD, headers: Record<string, string> = {}) {
  return t.request('POST', '/api/auth/password/register', { body: { email, password }, headers });
}
async function login(email: string, password: string, headers: Record<string, string> = {}) {
  return t.request('POST', '/api/auth/password/login', { body: { email, password }, headers });
}
async function state() {
  const accounts = await t.server.store.read(async (tx) => (await tx.auth.accountByEmail('ada@example.com')) !== null);
  return { head: (await t.server.store.changeLogBounds()).head, accounts };
}

describe('register and login', () => {
  it('registers an account with a User row, hashes with scrypt and a per-account salt, and signs in', async () => {
    await start();
    const res = await register('Ada@Example.com');
    expect(res.status).toBe(201);
    const body = res.json as any;
    expect(body.token).toMatch(/^mast_[0-9a-f]{64}$/);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(body.token) })).json).toEqual({ user_id: body.user_id, is_admin: false, roles: [] });
    const user = await t.request('GET', `/api/entities/User/${body.user_id}`);
    expect(user.json).toMatchObject({ id: body.user_id, email: 'ada@example.com' });
    expect(user.text).not.toMatch(/password|scrypt/i);
    await register('bob@example.com');
    const [a, b] = await t.server.store.read(async (tx) => [await tx.auth.accountByEmail('ada@example.com'), await tx.auth.accountByEmail('bob@example.com')]);
    expect(a!.passwordHash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a!.passwordHash).not.toBe(b!.passwordHash);
    expect(a!.passwordHash).not.toContain(PASSWORD);
    const ok = await login(' ADA@example.COM', PASSWORD);
    expect(ok.status).toBe(200);
    expect((ok.json as any).user_id).toBe(body.user_id);
    expect((ok.json as any).token).not.toBe(body.token);
  });

  it('sets the session cookie for browsers', async () => {
    await start();
    const res = await register('ada@example.com', PASSWORD, { origin: 'http://localhost:5173' });
    expect(res.headers.get('set-cookie')).toMatch(/^mast_session=mast_[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
  });

  it('refuses bad registrations precisely and writes nothing', async () => {
    await start();
    const before = await state();
    const cases: Array<[unknown, number, string, string[]?]> = [
      [undefined, 400, 'INVALID_DATA'],
      [[], 400, 'INVALID_DATA'],
      [{ password: PASSWORD }, 400, 'INVALID_EMAIL', ['email']],
      [{ email: 'not-an-email', password: PASSWORD }, 400, 'INVALID_EMAIL', ['email']],
      [{ email: 42, password: PASSWORD }, 400, 'INVALID_EMAIL', ['email']],
      [{ email: 'ada@example.com' }, 400, 'INVALID_DATA', ['password']],
      [{ email: 'ada@example.com', password: 'short12' }, 400, 'WEAK_PASSWORD', ['password']],
      [{ email: 'ada@example.com', password: 'x'.repeat(257) }, 400, 'PASSWORD_TOO_LONG', ['password']],
      [{ email: 'ada@example.com', password: '€'.repeat(86) }, 400, 'PASSWORD_TOO_LONG', ['password']],
      [{ email: 'ada@example.com', password: PASSWORD, displayName: 'x'.repeat(201) }, 400, 'INVALID_DATA', ['displayName']],
    ];
    for (const [body, status, code, fields] of cases) {
      const res = await t.request('POST', '/api/auth/password/register', body === undefined ? {} : { body });
      expect([res.status, (res.json as any).error.code], JSON.stringify(body)).toEqual([status, code]);
      if (fields) expect((res.json as any).error.fields).toEqual(fields);
    }
    const bad = await t.request('POST', '/api/auth/password/register', { rawBody: '{"email":' });
    expect([bad.status, (bad.json as any).error.code]).toEqual([400, 'INVALID_JSON']);
    expect(await state()).toEqual(before);
    // Exactly 256 bytes and exactly 8 characters are fine.
    expect((await register('ada@example.com', 'y'.repeat(256))).status).toBe(201);
    expect((await register('bob@example.com', '12345678')).status).toBe(201);
  });

  it('a taken email in another case is 409 EMAIL_TAKEN, writing nothing', async () => {
    await start();
    await register('ada@example.com');
    const head = (await t.server.store.changeLogBounds()).head;
    const res = await register('ADA@example.com', 'another password');
    expect([res.status, (res.json as any).error.code]).toEqual([409, 'EMAIL_TAKEN']);
    expect((await t.server.store.changeLogBounds()).head).toBe(head);
    expect((await login('ada@example.com', PASSWORD)).status).toBe(200);
  });

  it('a wrong password, an unknown email and a password-less account get the same answer', async () => {
    await start();
    await register('ada@example.com');
    await t.server.accounts.create({ email: 'codeonly@example.com', emailVerified: true });
    const answers = [];
    for (const [email, password] of [
      ['ada@example.com', 'wrong password'],
      ['nobody@example.com', PASSWORD],
      ['codeonly@example.com', PASSWORD],
    ] as const) {
      const res = await login(email, password);
      answers.push({ status: res.status, body: res.text });
    }
    expect(answers[0]!.status).toBe(401);
    expect(JSON.parse(answers[0]!.body)).toEqual({ error: { code: 'INVALID_CREDENTIALS', message: 'Invalid email or password' } });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('refuses malformed logins before any work', async () => {
    await start();
    for (const [body, code] of [
      [{ email: 'ada@example.com' }, 'INVALID_DATA'],
      [{ email: 'ada@example.com', password: '' }, 'INVALID_DATA'],
      [{ email: 'ada@example.com', password: 'x'.repeat(10_000) }, 'PASSWORD_TOO_LONG'],
      [{ email: ['ada@example.com'], password: PASSWORD }, 'INVALID_EMAIL'],
      ['just a string', 'INVALID_DATA'],
    ] as const) {
      const res = await t.request('POST', '/api/auth/password/login', { body });
      expect((res.json as any).error.code, JSON.stringify(body)).toBe(code);
    }
  });
});

describe('races', () => {
  it('two registrations of one email at once: one account, the other 409', async () => {
    await start();
    const results = await Promise.all([register('ada@example.com', 'first password'), register('ADA@example.com', 'second password')]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
    const users = ((await t.request('GET', '/api/entities/User')).json as any).data;
    expect(users).toHaveLength(1);
  });
});

describe('brute force', () => {
  it('per address: the limit+1-th login is 429 RATE_LIMITED with Retry-After, even with the right password', async () => {
    await start({ authLoginLimit: 3 });
    await register('ada@example.com', PASSWORD, from('10.0.0.9'));
    for (let i = 0; i < 3; i++) expect((await login(`user${i}@example.com`, 'wrong password', from('10.0.0.1'))).status).toBe(401);
    const res = await login('ada@example.com', PASSWORD, from('10.0.0.1'));
    expect(res.status).toBe(429);
    expect((res.json as any).error.code).toBe('RATE_LIMITED');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect((await login('ada@example.com', PASSWORD, from('10.0.0.2'))).status).toBe(200);
  });

  it('per email: attempts from many addresses against one account are limited too', async () => {
    await start({ authLoginAccountLimit: 4 });
    await register('ada@example.com'); // registering counts for the email too
    for (let i = 0; i < 3; i++) expect((await login('ada@example.com', 'wrong password', from(`10.0.1.${i}`))).status).toBe(401);
    const res = await login('Ada@example.com', PASSWORD, from('10.0.1.99'));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(60);
    expect((await login('bob@example.com', PASSWORD, from('10.0.1.99'))).status).toBe(401);
  });

  it('counters live in the database: a restart on the same file keeps them', async () => {
    await start({ authLoginLimit: 2 });
    for (let i = 0; i < 2; i++) await login('x@example.com', 'wrong password', from('10.0.2.1'));
    const { MastServer, loadConfig } = await import('@mast/server');
    const { compileManifest } = await import('@mast/schema');
    const { join } = await import('node:path');
    await t.server.close();
    const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(t.dir, 'test.db'), dev: true, trustProxy: 1, authLoginLimit: 2 });
    const again = await MastServer.create({ appDir: t.dir, schema: compileManifest(testManifest), config });
    const port = await again.listen();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/auth/password/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...from('10.0.2.1') },
        body: JSON.stringify({ email: 'x@example.com', password: 'wrong password' }),
      });
      expect(res.status).toBe(429);
    } finally {
      await again.close();
    }
  });

  it('guest sessions are limited per address', async () => {
    await start({ authGuestLimit: 2 });
    expect((await t.request('POST', '/api/auth/guest', { headers: from('10.0.3.1') })).status).toBe(201);
    expect((await t.request('POST', '/api/auth/guest', { headers: from('10.0.3.1') })).status).toBe(201);
    const res = await t.request('POST', '/api/auth/guest', { headers: from('10.0.3.1') });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).not.toBeNull();
  });
});

describe('password change', () => {
  it('needs an account session and the current password; weak or missing new passwords are refused', async () => {
    await start();
    const { token } = (await register('ada@example.com')).json as any;
    const guest = ((await t.request('POST', '/api/auth/guest')).json as any).token;
    const change = (body: unknown, headers: Record<string, string>) => t.request('POST', '/api/auth/password/change', { body, headers });
    expect((await change({ currentPassword: PASSWORD, newPassword: 'new password 1' }, {})).json).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
    expect((await change({ currentPassword: PASSWORD, newPassword: 'new password 1' }, bearer(guest))).json).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
    const wrong = await change({ currentPassword: 'not my password', newPassword: 'new password 1' }, bearer(token));
    expect([wrong.status, (wrong.json as any).error.code]).toEqual([401, 'WRONG_PASSWORD']);
    expect((await change({ currentPassword: PASSWORD, newPassword: 'short' }, bearer(token))).json).toMatchObject({ error: { code: 'WEAK_PASSWORD', fields: ['newPassword'] } });
    expect((await change({ currentPassword: PASSWORD }, bearer(token))).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['newPassword'] } });
    expect((await login('ada@example.com', PASSWORD)).status).toBe(200);
    const codeOnly = await t.server.accounts.create({ email: 'code@example.com', emailVerified: true });
    const codeSession = await t.server.sessions.issue({ userId: codeOnly.id });
    expect((await change({ currentPassword: 'anything at all', newPassword: 'new password 1' }, bearer(codeSession.token))).json).toMatchObject({
      error: { code: 'NO_PASSWORD_SET' },
    });
  });

  it('replaces the password, ends every session of the account (closing its sockets) and issues a new one', async () => {
    await start();
    const first = (await register('ada@example.com')).json as any;
    const second = (await login('ada@example.com', PASSWORD)).json as any;
    const other = (await register('bob@example.com')).json as any;
    const { LiveClient } = await import('./helpers/live-client.js');
    const { client: socket } = await LiveClient.connect(t.url.replace('http', 'ws') + '/ws', { token: second.token });
    const res = await t.request('POST', '/api/auth/password/change', { body: { currentPassword: PASSWORD, newPassword: 'a brand new one' }, headers: bearer(first.token) });
    expect(res.status).toBe(200);
    const body = res.json as any;
    expect(body).toMatchObject({ changed: true, revoked_sessions: 2, user_id: first.user_id });
    expect((await socket.closed).code).toBe(4001);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(first.token) })).status).toBe(401);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(second.token) })).status).toBe(401);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(body.token) })).json).toMatchObject({ user_id: first.user_id });
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(other.token) })).json).toMatchObject({ user_id: other.user_id });
    expect((await login('ada@example.com', PASSWORD)).status).toBe(401);
    expect((await login('ada@example.com', 'a brand new one')).status).toBe(200);
  });
});

describe('password reset', () => {
  async function outbox(to: string): Promise<Array<{ subject: string; text: string }>> {
    return ((await t.request('GET', `/api/auth/outbox?to=${encodeURIComponent(to)}`)).json as any).messages;
  }
  async function waitForMail(to: string, count: number): Promise<Array<{ subject: string; text: string }>> {
    for (;;) {
      const messages = await outbox(to);
      if (messages.length >= count) return messages;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const tokenOf = (text: string): string => /reset token: (\S+)/.exec(text)![1]!;

  it('answers the same for known and unknown emails and mails only the known one', async () => {
    await start({ publicUrl: 'https://app.example/' });
    await register('ada@example.com');
    const known = await t.request('POST', '/api/auth/password/reset/request', { body: { email: 'ADA@example.com' } });
    const unknown = await t.request('POST', '/api/auth/password/reset/request', { body: { email: 'nobody@example.com' } });
    expect([known.status, known.text]).toEqual([200, '{"sent":true}']);
    expect([unknown.status, unknown.text]).toEqual([known.status, known.text]);
    const [mail] = await waitForMail('ada@example.com', 1);
    expect(mail!.text).toContain(`https://app.example/reset-password?token=${tokenOf(mail!.text)}`);
    expect(await outbox('nobody@example.com')).toEqual([]);
    expect((await t.request('POST', '/api/auth/password/reset/request', { body: { email: 'nope' } })).json).toMatchObject({ error: { code: 'INVALID_EMAIL' } });
  });

  it('a token sets the password once, ends every session and verifies the email; wrong, reused and expired tokens are refused', async () => {
    await start();
    const first = (await register('ada@example.com')).json as any;
    await t.request('POST', '/api/auth/password/reset/request', { body: { email: 'ada@example.com' } });
    const token = tokenOf((await waitForMail('ada@example.com', 1))[0]!.text);
    const complete = (body: unknown) => t.request('POST', '/api/auth/password/reset/complete', { body });
    expect((await complete({ token: token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'), newPassword: 'fresh password' })).json).toMatchObject({
      error: { code: 'INVALID_TOKEN' },
    });
    expect((await complete({ token, newPassword: 'weak' })).json).toMatchObject({ error: { code: 'WEAK_PASSWORD' } });
    expect((await complete({ newPassword: 'fresh password' })).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['token'] } });
    expect((await login('ada@example.com', PASSWORD)).status).toBe(200);
    const res = await complete({ token, newPassword: 'fresh password' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ reset: true, revoked_sessions: 2, user_id: first.user_id });
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(first.token) })).status).toBe(401);
    expect((await t.server.accounts.findByEmail('ada@example.com'))!.emailVerified).toBe(true);
    expect((await login('ada@example.com', PASSWORD)).status).toBe(401);
    expect((await login('ada@example.com', 'fresh password')).status).toBe(200);
    expect((await complete({ token, newPassword: 'another password' })).json).toMatchObject({ error: { code: 'INVALID_TOKEN' } });

    await t.request('POST', '/api/auth/password/reset/request', { body: { email: 'ada@example.com' } });
    const late = tokenOf((await waitForMail('ada@example.com', 2))[1]!.text);
    const account = (await t.server.accounts.findByEmail('ada@example.com'))!;
    await t.server.store.write(async (tx) => {
      const code = (await tx.auth.getCode('reset', account.id))!;
      await tx.auth.putCode({ ...code, expiresAt: Date.now() - 1 });
    });
    expect((await complete({ token: late, newPassword: 'too late now' })).json).toMatchObject({ error: { code: 'INVALID_TOKEN' } });
    expect((await login('ada@example.com', 'fresh password')).status).toBe(200);
  });

  it('reset requests are rate limited per address', async () => {
    await start({ authSendLimit: 2 });
    for (let i = 0; i < 2; i++) expect((await t.request('POST', '/api/auth/password/reset/request', { body: { email: `u${i}@example.com` } })).status).toBe(200);
    const res = await t.request('POST', '/api/auth/password/reset/request', { body: { email: 'u9@example.com' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).not.toBeNull();
  });
});

describe('guest merge', () => {
  it('a guest who registers keeps their rows: ownership moves in one logged transaction and live queries see it; the guest session ends', async () => {
    await start();
    const guest = (await t.request('POST', '/api/auth/guest')).json as any;
    for (const title of ['one', 'two']) await t.request('POST', '/api/entities/Todo', { body: { title, done: false, ownerId: guest.user_id }, headers: bearer(guest.token) });
    await t.request('POST', '/api/entities/Todo', { body: { title: 'someone else', done: false, ownerId: 'guest_' + 'f'.repeat(32) } });
    const { LiveClient } = await import('./helpers/live-client.js');
    const { client: watcher } = await LiveClient.connect(t.url.replace('http', 'ws') + '/ws');
    watcher.send({ type: 'subscribe', id: 'todos', entity: 'Todo', filter: {} });
    await watcher.next('result');
    const head = (await t.server.store.changeLogBounds()).head;
    const res = await register('ada@example.com', PASSWORD, bearer(guest.token));
    expect(res.status).toBe(201);
    const body = res.json as any;
    expect(body.merged_rows).toBe(2);
    const changes = await t.server.store.changesSince(head, 10);
    expect(changes.map((c) => [c.entity, c.kind])).toEqual([
      ['User', 'insert'],
      ['Todo', 'update'],
      ['Todo', 'update'],
    ]);
    const diff = await watcher.next('diff', (d) => d.changed.length === 2);
    expect(diff.changed.map((r: any) => r.ownerId)).toEqual([body.user_id, body.user_id]);
    const todos = ((await t.request('GET', '/api/entities/Todo')).json as any).data as any[];
    expect(
      todos
        .filter((r) => r.ownerId === body.user_id)
        .map((r) => r.title)
        .sort(),
    ).toEqual(['one', 'two']);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(guest.token) })).status).toBe(401);
    watcher.ws.close();
  });

  it('a guest who logs in merges too; a failed login moves nothing', async () => {
    await start();
    const account = (await register('ada@example.com')).json as any;
    const guest = (await t.request('POST', '/api/auth/guest')).json as any;
    await t.request('POST', '/api/entities/Todo', { body: { title: 'g', done: false, ownerId: guest.user_id }, headers: bearer(guest.token) });
    const head = (await t.server.store.changeLogBounds()).head;
    expect((await login('ada@example.com', 'wrong password', bearer(guest.token))).status).toBe(401);
    expect((await t.server.store.changeLogBounds()).head).toBe(head);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(guest.token) })).status).toBe(200);
    const res = await login('ada@example.com', PASSWORD, bearer(guest.token));
    expect(res.json).toMatchObject({ user_id: account.user_id, merged_rows: 1 });
    const todos = ((await t.request('GET', '/api/entities/Todo')).json as any).data as any[];
    expect(todos[0].ownerId).toBe(account.user_id);
  });
});
