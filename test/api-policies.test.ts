import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '@mast/schema';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const ADMIN = 'admin-token-for-policy-tests';
const OWNER = 'auth.userId == data.ownerId';

const manifest: Manifest = {
  manifest_version: 1,
  name: 'policies',
  version: '1',
  routes: [],
  entities: [
    {
      name: 'Todo',
      fields: [
        { name: 'title', type: 'string', optional: false, unique: false },
        { name: 'ownerId', type: 'string', optional: false, unique: false },
        { name: 'public', type: 'bool', optional: true, unique: false },
        { name: 'handle', type: 'string', optional: true, unique: true },
      ],
      indexes: [],
    },
    { name: 'Note', fields: [{ name: 'body', type: 'string', optional: false, unique: false }], indexes: [] },
  ],
  policies: [{ name: 'todo_owner', entity: 'Todo', allowRead: `${OWNER} || data.public == true`, allowInsert: OWNER, allowUpdate: OWNER, allowDelete: OWNER }],
};

let t: TestServer;
let alice: string;
let bob: string;
const as = (token: string | null) => (token === null ? {} : { authorization: `Bearer ${token}` });

async function mint(userId: string): Promise<string> {
  const res = await t.request('POST', '/api/auth/session', { body: { user_id: userId }, headers: as(ADMIN) });
  return (res.json as { token: string }).token;
}

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN });
  alice = await mint('alice');
  bob = await mint('bob');
  for (const [id, owner, isPublic, token] of [
    ['a-private', 'alice', false, () => alice],
    ['a-public', 'alice', true, () => alice],
    ['b-private', 'bob', false, () => bob],
  ] as const) {
    const res = await t.request('POST', '/api/entities/Todo', { body: { id, title: `secret of ${id}`, ownerId: owner, public: isPublic }, headers: as(token()) });
    expect(res.status, res.text).toBe(201);
  }
});
afterAll(async () => {
  await t.close();
});

const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id).sort();

describe('reads respect row policies', () => {
  it('lists, queries and cursors show each caller only the rows they may read', async () => {
    const list = async (token: string | null) => ids(((await t.request('GET', '/api/entities/Todo', { headers: as(token) })).json as any).data);
    expect(await list(alice)).toEqual(['a-private', 'a-public']);
    expect(await list(bob)).toEqual(['a-public', 'b-private']);
    expect(await list(null)).toEqual(['a-public']);
    expect(await list(ADMIN)).toEqual(['a-private', 'a-public', 'b-private']);
    const query = await t.request('POST', '/api/query/Todo', { body: { title: { $like: 'secret' } }, headers: as(bob) });
    expect(ids(query.json as any)).toEqual(['a-public', 'b-private']);
    const cursor = await t.request('GET', '/api/entities/Todo/cursor?limit=1', { headers: as(bob) });
    expect((cursor.json as any).data.map((r: any) => r.id)).toEqual(['a-public']);
    expect((cursor.json as any).has_more).toBe(true);
  });

  it('?total=true adds the number of rows the caller may read; count stays the page size, as in Pylon', async () => {
    const page = async (query: string, token: string | null) => (await t.request('GET', `/api/entities/Todo${query}`, { headers: as(token) })).json as Record<string, unknown>;
    expect(await page('?limit=0&total=true', bob)).toEqual({ count: 0, data: [], limit: 0, offset: 0, has_more: true, total: 2 });
    expect(await page('?limit=1&total=true', null)).toMatchObject({ count: 1, has_more: false, total: 1 });
    expect(await page('?limit=1&total=true', ADMIN)).toMatchObject({ count: 1, has_more: true, total: 3 });
    expect(await page('?limit=1', ADMIN)).not.toHaveProperty('total');
    expect(await page('?total=false', ADMIN)).not.toHaveProperty('total');
    const bad = await t.request('GET', '/api/entities/Todo?total=yes', { headers: as(ADMIN) });
    expect([bad.status, (bad.json as any).error]).toEqual([400, { code: 'INVALID_QUERY', message: 'total must be true or false, not "yes"', fields: ['total'] }]);
  });

  it("another user's private row is not found, by id and by lookup, and its content never appears", async () => {
    const byId = await t.request('GET', '/api/entities/Todo/a-private', { headers: as(bob) });
    expect(byId.status).toBe(404);
    expect(byId.text).not.toContain('secret');
    expect((await t.request('GET', '/api/lookup/Todo/title/secret%20of%20a-private', { headers: as(bob) })).status).toBe(404);
    expect((await t.request('GET', '/api/entities/Todo/a-private', { headers: as(alice) })).status).toBe(200);
  });

  it('an entity with no rule is denied to users and open to the admin', async () => {
    const res = await t.request('GET', '/api/entities/Note', { headers: as(alice) });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: { code: 'POLICY_DENIED' } });
    expect((await t.request('POST', '/api/entities/Note', { body: { body: 'x' }, headers: as(alice) })).status).toBe(403);
    expect((await t.request('GET', '/api/entities/Note', { headers: as(ADMIN) })).status).toBe(200);
  });
});

describe('writes respect row policies before and after the change', () => {
  it('nobody inserts a row owned by someone else', async () => {
    const res = await t.request('POST', '/api/entities/Todo', { body: { title: 'planted', ownerId: 'alice' }, headers: as(bob) });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: { code: 'POLICY_DENIED' } });
  });

  it("updating or deleting another user's private row is not found; a public one is denied", async () => {
    expect((await t.request('PATCH', '/api/entities/Todo/a-private', { body: { title: 'hijack' }, headers: as(bob) })).status).toBe(404);
    expect((await t.request('DELETE', '/api/entities/Todo/a-private', { headers: as(bob) })).status).toBe(404);
    const pub = await t.request('PATCH', '/api/entities/Todo/a-public', { body: { title: 'hijack' }, headers: as(bob) });
    expect(pub.status).toBe(403);
    expect((await t.request('DELETE', '/api/entities/Todo/a-public', { headers: as(bob) })).status).toBe(403);
    expect(((await t.request('GET', '/api/entities/Todo/a-public', { headers: as(alice) })).json as any).title).toBe('secret of a-public');
  });

  it("a collision with another user's hidden row answers exactly as one with the caller's own row, without the value", async () => {
    expect(
      (await t.request('POST', '/api/entities/Todo', { body: { id: 'a-handle', title: 't', ownerId: 'alice', handle: 'alice-secret-handle' }, headers: as(alice) })).status,
    ).toBe(201);
    expect((await t.request('POST', '/api/entities/Todo', { body: { id: 'b-handle', title: 't', ownerId: 'bob', handle: 'bobs-own-handle' }, headers: as(bob) })).status).toBe(201);
    const insert = (id: string, handle?: string) =>
      t.request('POST', '/api/entities/Todo', { body: { id, title: 'mine', ownerId: 'bob', ...(handle ? { handle } : {}) }, headers: as(bob) });
    // An id: the hidden row's and bob's own.
    const hiddenId = await insert('a-private');
    const ownId = await insert('b-private');
    expect(hiddenId.status).toBe(409);
    expect(hiddenId.text).not.toContain('a-private');
    expect(hiddenId.text).toBe(ownId.text);
    // A unique value: only alice's hidden row holds the first, bob's own row the second.
    const hiddenValue = await insert('fresh-1', 'alice-secret-handle');
    const ownValue = await insert('fresh-2', 'bobs-own-handle');
    expect(hiddenValue.status).toBe(409);
    expect(hiddenValue.text).not.toContain('alice-secret-handle');
    expect(hiddenValue.text).toBe(ownValue.text);
    expect(hiddenValue.json).toEqual({ error: { code: 'UNIQUE_VIOLATION', message: 'Todo.handle is already taken', fields: ['handle'] } });
  });

  it('an owner cannot hand a row to someone else', async () => {
    const res = await t.request('PATCH', '/api/entities/Todo/a-private', { body: { ownerId: 'bob' }, headers: as(alice) });
    expect(res.status).toBe(403);
    expect(((await t.request('GET', '/api/entities/Todo/a-private', { headers: as(alice) })).json as any).ownerId).toBe('alice');
  });

  it('a transact with one forbidden operation writes nothing', async () => {
    const res = await t.request('POST', '/api/transact', {
      body: [
        { op: 'insert', entity: 'Todo', data: { id: 'b-new', title: 'mine', ownerId: 'bob' } },
        { op: 'update', entity: 'Todo', id: 'a-private', data: { title: 'hijack' } },
      ],
      headers: as(bob),
    });
    expect(res.status).toBe(404);
    expect((await t.request('GET', '/api/entities/Todo/b-new', { headers: as(bob) })).status).toBe(404);
  });

  it('sync push checks each change against the pusher', async () => {
    const res = await t.request('POST', '/api/sync/push', {
      body: {
        changes: [
          { entity: 'Todo', row_id: 'a-private', kind: 'delete', op_id: 'p1' },
          { entity: 'Todo', row_id: 'b-2', kind: 'insert', data: { title: 't', ownerId: 'bob' }, op_id: 'p2' },
        ],
      },
      headers: as(bob),
    });
    const body = res.json as any;
    expect(body.results.map((r: any) => r.ok)).toEqual([false, true]);
    expect(body.results[0].error.code).toBe('NOT_FOUND');
  });

  it("a client op id is the caller's own: another user reusing it gets their own checks, not the first result", async () => {
    const change = { entity: 'Todo', row_id: 'shared-op-row', kind: 'insert', data: { title: 'x', ownerId: 'alice' }, op_id: 'same-op' };
    expect(((await t.request('POST', '/api/sync/push', { body: { changes: [change] }, headers: as(alice) })).json as any).applied).toBe(1);
    const replay = (await t.request('POST', '/api/sync/push', { body: { changes: [change] }, headers: as(bob) })).json as any;
    expect(replay.deduped).toBe(0);
    expect(replay.results[0].error.code).toBe('POLICY_DENIED');
  });
});

describe('sync pull respects row policies', () => {
  it("sends only visible changes, and a tombstone when a row leaves the caller's view", async () => {
    const before = (await t.request('GET', '/api/sync/pull?since=0&limit=1000', { headers: as(bob) })).json as any;
    expect(before.changes.every((c: any) => c.data === undefined || c.data.ownerId === 'bob' || c.data.public === true)).toBe(true);
    expect(JSON.stringify(before)).not.toContain('secret of a-private');
    const cursor = before.cursor.last_seq;
    await t.request('PATCH', '/api/entities/Todo/a-public', { body: { public: false }, headers: as(alice) });
    const after = (await t.request('GET', `/api/sync/pull?since=${cursor}`, { headers: as(bob) })).json as any;
    expect(after.changes).toHaveLength(1);
    expect(after.changes[0]).toMatchObject({ kind: 'delete', row_id: 'a-public' });
    expect(after.changes[0]).not.toHaveProperty('data');
    const forAlice = (await t.request('GET', `/api/sync/pull?since=${cursor}`, { headers: as(alice) })).json as any;
    expect(forAlice.changes[0]).toMatchObject({ kind: 'update', data: { public: false } });
  });
});

describe('policy errors at start-up', () => {
  it('refuses a manifest whose rule names an unknown field, naming the policy and position', async () => {
    const bad: Manifest = { ...manifest, policies: [{ name: 'typo', entity: 'Todo', allowRead: 'auth.userId == data.ownr' }] };
    await expect(startTestServer(bad)).rejects.toThrow(/typo.*allowRead.*column \d+.*ownr/s);
  });
});

describe('policy explain', () => {
  it('tells the admin which policy and rule decided, with the values it saw', async () => {
    const denied = await t.request('POST', '/api/policy/explain', { body: { entity: 'Todo', id: 'b-private', operation: 'read', auth: { user_id: 'alice' } }, headers: as(ADMIN) });
    expect(denied.status, denied.text).toBe(200);
    expect(denied.json).toMatchObject({ allowed: false, reason: 'denied', policy: 'todo_owner', rule: 'allowRead', saw: { auth: { user_id: 'alice' }, data: { ownerId: 'bob' } } });
    expect((denied.json as any).expression).toContain('auth.userId == data.ownerId');
    const allowed = await t.request('POST', '/api/policy/explain', {
      body: { entity: 'Todo', id: 'b-private', operation: 'delete', auth: { user_id: 'bob' } },
      headers: as(ADMIN),
    });
    expect(allowed.json).toMatchObject({ allowed: true, reason: 'rules' });
    const noRule = await t.request('POST', '/api/policy/explain', {
      body: { entity: 'Note', operation: 'insert', data: { body: 'x' }, auth: { user_id: 'bob' } },
      headers: as(ADMIN),
    });
    expect(noRule.json).toMatchObject({ allowed: false, reason: 'no-rule' });
  });

  it('is admin only and validates its body', async () => {
    expect((await t.request('POST', '/api/policy/explain', { body: { entity: 'Todo' }, headers: as(alice) })).status).toBe(403);
    expect((await t.request('POST', '/api/policy/explain', { body: { entity: 'Todo', operation: 'fly' }, headers: as(ADMIN) })).json).toMatchObject({
      error: { code: 'INVALID_DATA' },
    });
    expect((await t.request('POST', '/api/policy/explain', { body: { entity: 'Todo', id: 'nope' }, headers: as(ADMIN) })).status).toBe(404);
  });

  it('refuses unknown keys instead of explaining another question, naming the one meant', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ entity: 'Todo', id: 'b-private', user: 'alice' }, 'user', 'unknown key "user" (did you mean auth.user_id?)'],
      [{ entity: 'Todo', id: 'b-private', op: 'update' }, 'op', 'unknown key "op" (did you mean operation?)'],
      [{ entity: 'Todo', id: 'b-private', auth: { userId: 'alice' } }, 'auth.userId', 'unknown key "auth.userId" (did you mean auth.user_id?)'],
      [{ entity: 'Todo', id: 'b-private', auth: { user_id: 'alice', role: ['x'] } }, 'auth.role', 'unknown key "auth.role" (did you mean auth.roles?)'],
    ];
    for (const [body, field, message] of cases) {
      const res = await t.request('POST', '/api/policy/explain', { body, headers: as(ADMIN) });
      expect(res.status).toBe(400);
      const error = (res.json as { error: { code: string; message: string; fields: string[] } }).error;
      expect(error).toMatchObject({ code: 'INVALID_DATA', fields: [field] });
      expect(error.message).toContain(message);
      expect(error.message).toContain('{entity, operation?, id? | data?, input?, auth?');
    }
  });
});
