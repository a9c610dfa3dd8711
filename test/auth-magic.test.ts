import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { compileManifest } from '@mast/schema';
import { MastServer, loadConfig, type MastConfig } from '@mast/server';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { SmtpSink } from './helpers/smtp-sink.js';

let t: TestServer;
let sink: SmtpSink | undefined;
afterEach(async () => {
  await t?.close();
  await sink?.close();
  sink = undefined;
});

async function start(overrides: Partial<MastConfig> = {}): Promise<TestServer> {
  t = await startTestServer(testManifest, { dev: true, trustProxy: 1, ...overrides });
  return t;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const from = (ip: string) => ({ 'x-forwarded-for': ip });
const codeIn = (text: string): string => /code is (\d{6})/.exec(text)![1]!;

async function send(email: unknown, headers: Record<string, string> = {}) {
  return t.request('POST', '/api/auth/magic/send', { body: { email }, headers });
}
async function verify(email: unknown, code: unknown, headers: Record<string, string> = {}) {
  return t.request('POST', '/api/auth/magic/verify', { body: { email, code }, headers });
}
async function lastCode(to: string): Promise<string> {
  const messages = ((await t.request('GET', `/api/auth/outbox?to=${encodeURIComponent(to)}`)).json as any).messages as Array<{ text: string }>;
  return codeIn(messages.at(-1)!.text);
}
const wrongFor = (code: string): string => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('magic codes', () => {
  it('sends a 6-digit code and signs in with it, creating a verified account once', async () => {
    await start();
    const sent = await send('  Ada@Example.com ');
    expect(sent.json).toEqual({ sent: true, email: 'ada@example.com' });
    const code = await lastCode('ada@example.com');
    expect(code).toMatch(/^\d{6}$/);
    const stored = await t.server.store.read((tx) => tx.auth.getCode('magic', 'ada@example.com'));
    expect(stored!.codeHash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.codeHash).not.toContain(code);
    const res = await verify('ADA@example.com', code);
    expect(res.status).toBe(200);
    const body = res.json as any;
    expect(body.token).toMatch(/^mast_/);
    const account = await t.server.accounts.findByEmail('ada@example.com');
    expect(account).toMatchObject({ id: body.user_id, emailVerified: true, hasPassword: false });
    expect((await t.request('GET', `/api/entities/User/${body.user_id}`)).json).toMatchObject({ email: 'ada@example.com' });
    await send('ada@example.com');
    const again = await verify('ada@example.com', await lastCode('ada@example.com'));
    expect((again.json as any).user_id).toBe(body.user_id);
  });

  it('a used code does not work twice', async () => {
    await start();
    await send('ada@example.com');
    const code = await lastCode('ada@example.com');
    expect((await verify('ada@example.com', code)).status).toBe(200);
    const reused = await verify('ada@example.com', code);
    expect([reused.status, (reused.json as any).error.code]).toEqual([401, 'INVALID_CODE']);
  });

  it('one code presented twice at once signs in once', async () => {
    await start();
    await send('ada@example.com');
    const code = await lastCode('ada@example.com');
    const results = await Promise.all([verify('ada@example.com', code), verify('ada@example.com', code)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    expect(((await t.request('GET', '/api/entities/User')).json as any).data).toHaveLength(1);
  });

  it('an expired code is refused and removed', async () => {
    await start();
    await send('ada@example.com');
    const code = await lastCode('ada@example.com');
    await t.server.store.write(async (tx) => tx.auth.putCode({ ...(await tx.auth.getCode('magic', 'ada@example.com'))!, expiresAt: Date.now() - 1 }));
    const res = await verify('ada@example.com', code);
    expect([res.status, (res.json as any).error]).toEqual([401, { code: 'INVALID_CODE', message: 'The code has expired; request a new one' }]);
    expect(await t.server.store.read((tx) => tx.auth.getCode('magic', 'ada@example.com'))).toBeNull();
    expect(await t.server.accounts.findByEmail('ada@example.com')).toBeNull();
  });

  it('the code lifetime is an option', async () => {
    await start({ magicCodeTtl: 1 });
    await send('ada@example.com');
    const code = await lastCode('ada@example.com');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await verify('ada@example.com', code)).json).toMatchObject({ error: { code: 'INVALID_CODE' } });
  });

  it('wrong guesses count; the last allowed one burns the code, after which even the right code is 429; nothing else is written', async () => {
    await start({ codeMaxAttempts: 3 });
    await send('ada@example.com');
    const code = await lastCode('ada@example.com');
    const head = (await t.server.store.changeLogBounds()).head;
    for (let i = 0; i < 2; i++) {
      const res = await verify('ada@example.com', wrongFor(code));
      expect([res.status, (res.json as any).error.code]).toEqual([401, 'INVALID_CODE']);
    }
    const burning = await verify('ada@example.com', 'abcdef');
    expect([burning.status, (burning.json as any).error.code]).toEqual([429, 'RATE_LIMITED']);
    expect(Number(burning.headers.get('retry-after'))).toBeGreaterThan(0);
    const right = await verify('ada@example.com', code);
    expect([right.status, (right.json as any).error.code]).toEqual([429, 'RATE_LIMITED']);
    expect(await t.server.accounts.findByEmail('ada@example.com')).toBeNull();
    expect((await t.server.store.changeLogBounds()).head).toBe(head);
    // A new code starts afresh.
    await send('ada@example.com');
    expect((await verify('ada@example.com', await lastCode('ada@example.com'))).status).toBe(200);
  });

  it('a newer code replaces the older one', async () => {
    await start();
    await send('ada@example.com');
    const first = await lastCode('ada@example.com');
    let second = first;
    while (second === first) {
      await send('ada@example.com');
      second = await lastCode('ada@example.com');
    }
    expect((await verify('ada@example.com', first)).json).toMatchObject({ error: { code: 'INVALID_CODE' } });
    expect((await verify('ada@example.com', second)).status).toBe(200);
  });

  it('a code is bound to its email', async () => {
    await start();
    await send('ada@example.com');
    await send('bob@example.com');
    const adaCode = await lastCode('ada@example.com');
    const bobCode = await lastCode('bob@example.com');
    if (adaCode !== bobCode) expect((await verify('bob@example.com', adaCode)).json).toMatchObject({ error: { code: 'INVALID_CODE' } });
    expect((await verify('nobody@example.com', adaCode)).json).toMatchObject({ error: { code: 'INVALID_CODE' } });
    expect((await verify('ada@example.com', adaCode)).status).toBe(200);
  });

  it('refuses malformed requests precisely', async () => {
    await start();
    expect((await send(undefined)).json).toMatchObject({ error: { code: 'INVALID_EMAIL', fields: ['email'] } });
    expect((await send('nope')).json).toMatchObject({ error: { code: 'INVALID_EMAIL' } });
    expect((await t.request('POST', '/api/auth/magic/send', { body: ['ada@example.com'] })).json).toMatchObject({ error: { code: 'INVALID_DATA' } });
    expect((await t.request('POST', '/api/auth/magic/send', { rawBody: '{' })).json).toMatchObject({ error: { code: 'INVALID_JSON' } });
    expect((await verify('ada@example.com', undefined)).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['code'] } });
    expect((await verify('ada@example.com', 123456)).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['code'] } });
    expect((await verify('ada@example.com', 'x'.repeat(33))).json).toMatchObject({ error: { code: 'INVALID_DATA', fields: ['code'] } });
    expect((await verify(undefined, '123456')).json).toMatchObject({ error: { code: 'INVALID_EMAIL' } });
    expect((await verify('ada@example.com', '123456')).json).toMatchObject({ error: { code: 'INVALID_CODE' } });
  });

  it('sending is limited per address and per email; verifying per address', async () => {
    await start({ authSendLimit: 2, authSendAccountLimit: 3, authVerifyLimit: 2 });
    for (let i = 0; i < 2; i++) expect((await send(`u${i}@example.com`, from('10.1.0.1'))).status).toBe(200);
    const perIp = await send('u9@example.com', from('10.1.0.1'));
    expect([perIp.status, (perIp.json as any).error.code]).toEqual([429, 'RATE_LIMITED']);
    expect(perIp.headers.get('retry-after')).not.toBeNull();
    for (let i = 0; i < 3; i++) expect((await send('ada@example.com', from(`10.1.1.${i}`))).status).toBe(200);
    expect((await send('ADA@example.com', from('10.1.1.50'))).status).toBe(429);
    for (let i = 0; i < 2; i++) await verify('ada@example.com', '000000', from('10.1.2.1'));
    expect((await verify('ada@example.com', '000000', from('10.1.2.1'))).status).toBe(429);
  });

  it('a guest who signs in with a code keeps their rows', async () => {
    await start();
    const guest = (await t.request('POST', '/api/auth/guest')).json as any;
    await t.request('POST', '/api/entities/Todo', { body: { title: 'mine', done: false, ownerId: guest.user_id }, headers: bearer(guest.token) });
    await send('ada@example.com');
    const res = await verify('ada@example.com', await lastCode('ada@example.com'), bearer(guest.token));
    expect(res.json).toMatchObject({ merged_rows: 1 });
    const todos = ((await t.request('GET', '/api/entities/Todo')).json as any).data;
    expect(todos[0].ownerId).toBe((res.json as any).user_id);
    expect((await t.request('GET', '/api/auth/me', { headers: bearer(guest.token) })).status).toBe(401);
  });
});

describe('email verification', () => {
  it('a signed-in account verifies its email with an emailed code', async () => {
    await start();
    const { token } = (await t.request('POST', '/api/auth/password/register', { body: { email: 'ada@example.com', password: 'long enough pw' } })).json as any;
    expect((await t.request('POST', '/api/auth/email/send-verification')).json).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
    expect((await t.request('POST', '/api/auth/email/verify', { body: { code: '123456' } })).json).toMatchObject({ error: { code: 'AUTH_REQUIRED' } });
    expect((await t.request('POST', '/api/auth/email/send-verification', { headers: bearer(token) })).json).toEqual({ email: 'ada@example.com', sent: true });
    const code = await lastCode('ada@example.com');
    // A verification code is not a sign-in code.
    expect((await verify('ada@example.com', code)).json).toMatchObject({ error: { code: 'INVALID_CODE' } });
    expect((await t.request('POST', '/api/auth/email/verify', { body: { code: wrongFor(code) }, headers: bearer(token) })).json).toMatchObject({ error: { code: 'INVALID_CODE' } });
    const res = await t.request('POST', '/api/auth/email/verify', { body: { code }, headers: bearer(token) });
    expect(res.json).toMatchObject({ verified: true });
    expect(Date.parse((res.json as any).emailVerified)).toBeGreaterThan(0);
    expect((await t.server.accounts.findByEmail('ada@example.com'))!.emailVerified).toBe(true);
    expect((await t.request('POST', '/api/auth/email/send-verification', { headers: bearer(token) })).json).toEqual({ email: 'ada@example.com', sent: false });
  });
});

describe('mail transports', () => {
  it('delivers through SMTP with nodemailer to a real socket; no outbox then', async () => {
    sink = await SmtpSink.start();
    await start({ smtpUrl: sink.url, mailFrom: 'Mast Test <auth@mast.test>' });
    await send('ada@example.com');
    const mail = await sink.nth(1);
    expect(mail.from).toBe('auth@mast.test');
    expect(mail.to).toEqual(['ada@example.com']);
    expect(mail.data).toMatch(/^Subject: Your sign-in code$/m);
    const code = codeIn(mail.data);
    expect((await verify('ada@example.com', code)).status).toBe(200);
    expect((await t.request('GET', '/api/auth/outbox')).status).toBe(404);
  });

  it('a refused delivery is 500 EMAIL_SEND_FAILED, leaves no code behind, and logs no code or token', async () => {
    sink = await SmtpSink.start();
    sink.reject = true;
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const dir = mkdtempSync(join(tmpdir(), 'mast-test-'));
    const config = loadConfig({}, { port: 0, host: '127.0.0.1', databaseUrl: join(dir, 'test.db'), dev: true, smtpUrl: sink.url });
    const server = await MastServer.create({ appDir: dir, schema: compileManifest(testManifest), config, logger: pino({ level: 'trace' }, stream) });
    const port = await server.listen();
    const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as any };
    };
    try {
      const failed = await post('/api/auth/magic/send', { email: 'ada@example.com' });
      expect([failed.status, failed.json.error.code]).toEqual([500, 'EMAIL_SEND_FAILED']);
      expect(await server.store.read((tx) => tx.auth.getCode('magic', 'ada@example.com'))).toBeNull();
      const secrets: string[] = ['a secret password'];
      const reg = await post('/api/auth/password/register', { email: 'bob@example.com', password: 'a secret password' }, { authorization: 'Bearer mast_' + 'e'.repeat(64) });
      expect(reg.json.error.code).toBe('INVALID_TOKEN');
      const ok = await post('/api/auth/password/register', { email: 'bob@example.com', password: 'a secret password' });
      secrets.push(ok.json.token, 'e'.repeat(64));
      await post('/api/auth/password/login', { email: 'bob@example.com', password: 'a wrong secret' });
      secrets.push('a wrong secret');
      sink.reject = false;
      await post('/api/auth/password/reset/request', { email: 'bob@example.com' });
      const reset = /reset token: (\S+)/.exec((await sink.nth(1)).data)![1]!;
      secrets.push(reset);
      await post('/api/auth/password/reset/complete', { token: reset, newPassword: 'a newer secret' });
      secrets.push('a newer secret');
      expect(lines.join('')).toContain('magic code email failed');
      for (const secret of secrets) expect(lines.join(''), secret).not.toContain(secret);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('outside dev mode without SMTP, sending is 503 EMAIL_NOT_CONFIGURED for every email and there is no outbox', async () => {
    await start({ dev: false });
    await t.server.accounts.create({ email: 'ada@example.com' });
    for (const path of ['/api/auth/magic/send', '/api/auth/password/reset/request']) {
      for (const email of ['ada@example.com', 'nobody@example.com']) {
        const res = await t.request('POST', path, { body: { email } });
        expect([res.status, (res.json as any).error.code]).toEqual([503, 'EMAIL_NOT_CONFIGURED']);
      }
    }
    expect((await t.request('GET', '/api/auth/outbox')).status).toBe(404);
  });
});
