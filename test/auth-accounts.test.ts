import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

const ADMIN = 'admin-token-for-account-tests';
let t: TestServer;
beforeEach(async () => {
  t = await startTestServer(testManifest, { adminToken: ADMIN });
});
afterEach(async () => {
  await t.close();
});

const admin = { authorization: `Bearer ${ADMIN}` };

describe('accounts', () => {
  it('creates an account with a normalised email and its User row with the same id, change-logged', async () => {
    const before = (await t.server.store.changeLogBounds()).head;
    const account = await t.server.accounts.create({ email: '  Ada@Example.COM ' });
    expect(account).toMatchObject({ email: 'ada@example.com', emailVerified: false, hasPassword: false });
    const row = await t.request('GET', `/api/entities/User/${account.id}`, { headers: admin });
    expect(row.json).toMatchObject({ id: account.id, email: 'ada@example.com' });
    const changes = await t.server.store.changesSince(before, 10);
    expect(changes.map((c) => [c.entity, c.kind, c.rowId])).toEqual([['User', 'insert', account.id]]);
    expect(await t.server.accounts.findByEmail('ADA@example.com')).toEqual(account);
    expect(await t.server.accounts.get(account.id)).toEqual(account);
  });

  it('refuses a second account with the same email in another case, writing nothing', async () => {
    await t.server.accounts.create({ email: 'ada@example.com' });
    const head = (await t.server.store.changeLogBounds()).head;
    await expect(t.server.accounts.create({ email: 'ADA@example.com' })).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });
    expect((await t.server.store.changeLogBounds()).head).toBe(head);
  });

  it('refuses malformed emails', async () => {
    for (const email of ['', 'no-at', 'a@', '@b', 'a b@c.d', 'a@b@c', `${'x'.repeat(250)}@example.com`, 'a@b.', 42]) {
      await expect(t.server.accounts.create({ email: email as string })).rejects.toMatchObject({ code: 'INVALID_EMAIL' });
    }
  });

  it('adopts an existing User row with the email only when the email is proven', async () => {
    const created = await t.request('POST', '/api/entities/User', { body: { email: 'bob@example.com', name: 'Bob' }, headers: admin });
    const rowId = (created.json as any).id as string;
    await expect(t.server.accounts.create({ email: 'bob@example.com' })).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });
    const account = await t.server.accounts.create({ email: 'Bob@example.com', emailVerified: true });
    expect(account.id).toBe(rowId);
    expect(account.emailVerified).toBe(true);
    const rows = await t.request('GET', '/api/entities/User', { headers: admin });
    expect((rows.json as any).count).toBe(1);
  });

  it('marks an email verified once', async () => {
    const account = await t.server.accounts.create({ email: 'c@example.com' });
    const verified = await t.server.accounts.markEmailVerified(account.id);
    expect(verified.emailVerified).toBe(true);
    expect((await t.server.accounts.markEmailVerified(account.id)).emailVerifiedAt).toBe(verified.emailVerifiedAt);
    await expect(t.server.accounts.markEmailVerified('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('links a federated identity to one account only', async () => {
    const a = await t.server.accounts.create({ email: 'a@example.com' });
    const b = await t.server.accounts.create({ email: 'b@example.com' });
    await t.server.accounts.linkIdentity('github', '1234', a.id);
    expect(await t.server.accounts.findIdentity('github', '1234')).toMatchObject({ userId: a.id });
    await expect(t.server.accounts.linkIdentity('github', '1234', b.id)).rejects.toMatchObject({ code: 'IDENTITY_TAKEN' });
    await expect(t.server.accounts.linkIdentity('github', '99', 'nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await t.server.accounts.findIdentity('google', '1234')).toBeNull();
  });

  it('merges a guest: id(User) fields holding the guest id move to the account, others stay', async () => {
    const guest = 'guest_' + 'a'.repeat(32);
    const other = 'guest_' + 'b'.repeat(32);
    for (const [title, ownerId] of [
      ['mine 1', guest],
      ['mine 2', guest],
      ['theirs', other],
      ['nobody', null],
    ] as const) {
      await t.request('POST', '/api/entities/Todo', { body: { title, done: false, ownerId }, headers: admin });
    }
    const account = await t.server.accounts.create({ email: 'g@example.com' });
    const moved = await t.server.accounts.transaction((ops) => ops.mergeGuest(guest, account.id));
    expect(moved).toBe(2);
    const todos = ((await t.request('GET', '/api/entities/Todo', { headers: admin })).json as any).data as Array<{ title: string; ownerId: string | null }>;
    expect(Object.fromEntries(todos.map((r) => [r.title, r.ownerId]))).toEqual({ 'mine 1': account.id, 'mine 2': account.id, theirs: other, nobody: null });
  });

  it('a failure inside an account transaction rolls back the account, its row and the merge', async () => {
    const guest = 'guest_' + 'c'.repeat(32);
    await t.request('POST', '/api/entities/Todo', { body: { title: 'g', done: false, ownerId: guest }, headers: admin });
    const head = (await t.server.store.changeLogBounds()).head;
    await expect(
      t.server.accounts.transaction(async (ops) => {
        const account = await ops.create({ email: 'r@example.com' });
        await ops.mergeGuest(guest, account.id);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await t.server.accounts.findByEmail('r@example.com')).toBeNull();
    expect((await t.server.store.changeLogBounds()).head).toBe(head);
    const todos = ((await t.request('GET', '/api/entities/Todo', { headers: admin })).json as any).data;
    expect(todos[0].ownerId).toBe(guest);
  });
});

describe('GET /api/auth/session', () => {
  it("shows the caller's user row without passwordHash, _ fields or hidden fields", async () => {
    await t.close();
    const manifest = structuredClone(testManifest);
    manifest.entities[0]!.fields.push(
      { name: 'displayName', type: 'string', optional: true, unique: false },
      { name: 'passwordHash', type: 'string', optional: true, unique: false },
      { name: 'secretNote', type: 'string', optional: true, unique: false },
    );
    manifest.auth = { user: { entity: 'User', hide: ['secretNote'] } };
    t = await startTestServer(manifest, { adminToken: ADMIN, dev: true });
    const reg = (await t.request('POST', '/api/auth/password/register', { body: { email: 'ada@example.com', password: 'long enough pw', displayName: 'Ada' } })).json as any;
    await t.request('PATCH', `/api/entities/User/${reg.user_id}`, { body: { passwordHash: 'planted', secretNote: 'hidden' }, headers: admin });
    const res = await t.request('GET', '/api/auth/session', { headers: { authorization: `Bearer ${reg.token}` } });
    expect(res.json).toMatchObject({ session: { user_id: reg.user_id }, user: { id: reg.user_id, email: 'ada@example.com', displayName: 'Ada' } });
    expect(res.text).not.toContain('planted');
    expect(res.text).not.toContain('hidden');
    expect((await t.request('GET', '/api/auth/session')).json).toMatchObject({ user: null });
  });
});

describe('a user entity with other required fields', () => {
  it('sign-up fails with MISSING_FIELD and leaves no account, row or session behind', async () => {
    await t.close();
    const manifest = structuredClone(testManifest);
    manifest.entities[0]!.fields.push({ name: 'plan', type: 'string', optional: false, unique: false });
    t = await startTestServer(manifest, { adminToken: ADMIN, dev: true });
    const head = (await t.server.store.changeLogBounds()).head;
    const res = await t.request('POST', '/api/auth/password/register', { body: { email: 'ada@example.com', password: 'long enough pw' } });
    expect([res.status, (res.json as any).error.code, (res.json as any).error.fields]).toEqual([400, 'MISSING_FIELD', ['plan']]);
    expect(await t.server.accounts.findByEmail('ada@example.com')).toBeNull();
    expect((await t.server.store.changeLogBounds()).head).toBe(head);
  });
});
