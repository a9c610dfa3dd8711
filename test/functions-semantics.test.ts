import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { callFn, deployFunctions, ownedTodoManifest } from './helpers/functions-app.js';
import { LiveClient } from './helpers/live-client.js';

const ADMIN = 'admin-token-for-function-semantics';
const manifest = ownedTodoManifest('fn-semantics');

/** Promises the function files await, opened by the tests (functions run in this process). */
interface Gates {
  [name: string]: { promise: Promise<void>; open: () => void } | undefined;
}
const gates = ((globalThis as { __fnGates?: Gates }).__fnGates ??= {});
function gate(name: string): () => void {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  gates[name] = { promise, open };
  return open;
}
const G = (name: string) => `(globalThis.__fnGates[${JSON.stringify(name)}].promise)`;

let t: TestServer;
const tokens: Record<string, string> = {};
const as = (user: string) => ({ authorization: `Bearer ${tokens[user]}` });
const head = async () => (await t.server.store.changeLogBounds()).head;
const count = async () => ((await t.request('GET', '/api/entities/Todo?limit=1000', { headers: { authorization: `Bearer ${ADMIN}` } })).json as { count: number }).count;
const code = (res: { json: unknown }) => (res.json as { error?: { code: string } }).error?.code;

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN, fnTimeout: 3000, fnMutationTimeout: 3000, fnIdle: 1000 });
  for (const user of ['alice', 'bob']) {
    const res = await t.request('POST', '/api/auth/session', { body: { user_id: user }, headers: { authorization: `Bearer ${ADMIN}` } });
    tokens[user] = (res.json as { token: string }).token;
  }
  const set = await deployFunctions(t, {
    add: `export default mutation({ args: { title: v.string() }, handler: async (ctx, a) => ({ id: await ctx.db.insert('Todo', { title: a.title, ownerId: ctx.auth.userId }) }) });`,
    addTwoThenThrow: `export default mutation({ handler: async (ctx) => {
      await ctx.db.insert('Todo', { title: 'one', ownerId: ctx.auth.userId });
      await ctx.db.insert('Todo', { title: 'two', ownerId: ctx.auth.userId });
      throw new Error('secret internal detail');
    } });`,
    addThenRefuse: `export default mutation({ handler: async (ctx) => {
      await ctx.db.insert('Todo', { title: 'refused', ownerId: ctx.auth.userId });
      throw ctx.error('QUOTA_EXCEEDED', 'You have too many todos');
    } });`,
    readOwnWrites: `export default mutation({ handler: async (ctx) => {
      const id = await ctx.db.insert('Todo', { title: 'mine', ownerId: ctx.auth.userId });
      await ctx.db.update('Todo', id, { title: 'mine, edited' });
      return { row: await ctx.db.get('Todo', id), listed: (await ctx.db.query('Todo', { title: 'mine, edited' })).length,
        looked: (await ctx.db.lookup('Todo', 'title', 'mine, edited'))?.id === id, all: (await ctx.db.list('Todo')).some((r) => r.id === id) };
    } });`,
    touch: `export default mutation({ args: { id: v.string() }, handler: async (ctx, a) => ({
      seen: await ctx.db.get('Todo', a.id), updated: await ctx.db.update('Todo', a.id, { title: 'taken' }), deleted: await ctx.db.delete('Todo', a.id),
      all: (await ctx.db.query('Todo')).map((r) => r.ownerId),
    }) });`,
    touchAsAdmin: `export default mutation({ unsafeBypassPolicies: true, args: { id: v.string() }, handler: async (ctx, a) => ({
      caller: ctx.auth.userId, seen: (await ctx.db.get('Todo', a.id))?.ownerId ?? null, updated: await ctx.db.update('Todo', a.id, { title: 'by admin fn' }),
    }) });`,
    giveAway: `export default mutation({ args: { to: v.string() }, handler: (ctx, a) => ctx.db.insert('Todo', { title: 'gift', ownerId: a.to }) });`,
    twoReads: `export default query({ args: { gate: v.string() }, handler: async (ctx, a) => {
      const before = (await ctx.db.query('Todo')).length;
      await globalThis.__fnGates[a.gate].promise;
      return { before, after: (await ctx.db.query('Todo')).length };
    } });`,
    mine: `export default query({ handler: async (ctx) => (await ctx.db.query('Todo')).length });`,
    slowAction: `export default action({ args: { gate: v.string() }, handler: async (ctx, a) => {
      await globalThis.__fnGates[a.gate].promise;
      return ctx.runMutation('add', { title: 'from action' });
    } });`,
    gatedAdd: `export default mutation({ args: { gate: v.string() }, handler: async (ctx, a) => {
      const id = await ctx.db.insert('Todo', { title: 'gated', ownerId: ctx.auth.userId });
      let open = false;
      globalThis.__fnGates[a.gate].promise.then(() => { open = true; });
      while (!open) { await ctx.db.get('Todo', id); await new Promise((r) => setTimeout(r, 10)); }
      return id;
    } });`,
  });
  expect(set.errors).toEqual([]);
});
afterAll(() => t.close());

describe('dev mode', () => {
  let dev: TestServer;
  beforeAll(async () => {
    dev = await startTestServer(manifest, { adminToken: ADMIN, dev: true });
    const set = await deployFunctions(dev, {
      crash: `export default action({ handler: () => { throw new TypeError('cannot read the room of undefined'); } });`,
    });
    expect(set.errors).toEqual([]);
  });
  afterAll(() => dev.close());

  it("shows a throwing handler's own message and stack to the caller (production shows neither)", async () => {
    const res = await callFn(dev, 'crash', {});
    expect(res.status).toBe(400);
    const error = (res.json as { error: { code: string; message: string; stack: string; hint: string } }).error;
    expect(error).toMatchObject({ code: 'HANDLER_ERROR', message: 'Internal handler error: cannot read the room of undefined' });
    expect(error.stack).toMatch(/^TypeError: cannot read the room of undefined\n\s+at /);
    expect(error.stack).toContain('crash');
    expect(error.hint).toContain('dev mode only');
  });

  it('lists functions and crons without the admin token, as /metrics; jobs and policy explanations still need it', async () => {
    expect((await dev.request('GET', '/api/fn')).status).toBe(200);
    expect((await dev.request('GET', '/api/crons')).json).toEqual({ crons: [] });
    expect((await dev.request('GET', '/api/jobs')).status).toBe(403);
    expect((await dev.request('POST', '/api/policy/explain', { body: { entity: 'Todo' } })).status).toBe(403);
    expect((await t.request('GET', '/api/crons')).status).toBe(403);
  });
});

describe('a mutation is one transaction', () => {
  it('a throw after two inserts leaves no row and no change-log entry; the message is not leaked', async () => {
    const [rows, seq] = [await count(), await head()];
    const res = await callFn(t, 'addTwoThenThrow', {}, as('alice'));
    expect([res.status, res.json]).toEqual([400, { error: { code: 'HANDLER_ERROR', message: 'Internal handler error' } }]);
    expect(res.text).not.toContain('secret');
    expect([await count(), await head()]).toEqual([rows, seq]);
  });

  it("ctx.error sends the author's code and message, and rolls back too", async () => {
    const rows = await count();
    const res = await callFn(t, 'addThenRefuse', {}, as('alice'));
    expect([res.status, res.json]).toEqual([400, { error: { code: 'QUOTA_EXCEEDED', message: 'You have too many todos' } }]);
    expect(await count()).toBe(rows);
  });

  it('commits on return: reads see its own writes inside, and one change-log entry per write', async () => {
    const seq = await head();
    const res = await callFn(t, 'readOwnWrites', {}, as('alice'));
    expect(res.json).toMatchObject({ row: { title: 'mine, edited', ownerId: 'alice' }, listed: 1, looked: true, all: true });
    expect(await head()).toBe(seq + 2);
  });

  it('Idempotency-Key: a replay returns the first result and writes once; the same key with other args is OP_ID_REUSED', async () => {
    const rows = await count();
    const first = await callFn(t, 'add', { title: 'once' }, { ...as('alice'), 'idempotency-key': 'k1' });
    const again = await callFn(t, 'add', { title: 'once' }, { ...as('alice'), 'idempotency-key': 'k1' });
    expect(again.json).toEqual(first.json);
    expect(await count()).toBe(rows + 1);
    expect(code(await callFn(t, 'add', { title: 'other' }, { ...as('alice'), 'idempotency-key': 'k1' }))).toBe('OP_ID_REUSED');
    // Op ids are per caller: bob's same key is a new write.
    expect((await callFn(t, 'add', { title: 'once' }, { ...as('bob'), 'idempotency-key': 'k1' })).json).not.toEqual(first.json);
  });

  it('a live subscriber receives the changes only after the commit', async () => {
    const { client } = await LiveClient.connect(t.url.replace('http', 'ws') + '/ws', { token: tokens.alice! });
    client.send({ type: 'subscribe', id: 's', entity: 'Todo', filter: { title: 'gated' } });
    await client.next('result');
    const open = gate('live');
    const call = callFn(t, 'gatedAdd', { gate: 'live' }, as('alice'));
    // The row is written but not committed: no diff may arrive, and readers do not see it.
    await new Promise((r) => setTimeout(r, 150));
    expect(client.frames.some((f) => f.includes('"diff"'))).toBe(false);
    const before = (await callFn(t, 'mine', {}, as('alice'))).json as number;
    open();
    const id = (await call).json as string;
    const diff = await client.next('diff');
    expect(diff.added.map((r) => r.id)).toEqual([id]);
    expect((await callFn(t, 'mine', {}, as('alice'))).json).toBe(before + 1);
    client.close();
  });
});

describe('policies apply inside ctx.db unless the function opts out', () => {
  it("another user's row is not found, not updated, not deleted, not listed", async () => {
    const { id } = (await callFn(t, 'add', { title: 'alice only' }, as('alice'))).json as { id: string };
    const res = await callFn(t, 'touch', { id }, as('bob'));
    expect(res.json).toMatchObject({ seen: null, updated: false, deleted: false });
    expect((res.json as { all: string[] }).all.every((o) => o === 'bob')).toBe(true);
  });

  it('a write the policy forbids is POLICY_DENIED', async () => {
    const res = await callFn(t, 'giveAway', { to: 'alice' }, as('bob'));
    expect([res.status, code(res)]).toEqual([403, 'POLICY_DENIED']);
  });

  it('unsafeBypassPolicies runs ctx.db as admin, while ctx.auth stays the caller', async () => {
    const { id } = (await callFn(t, 'add', { title: 'alice again' }, as('alice'))).json as { id: string };
    expect((await callFn(t, 'touchAsAdmin', { id }, as('bob'))).json).toEqual({ caller: 'bob', seen: 'alice', updated: true });
    const admin = { authorization: `Bearer ${ADMIN}` };
    expect((await t.request('GET', `/api/entities/Todo/${id}`, { headers: admin })).json).toMatchObject({ title: 'by admin fn' });
  });
});

describe('concurrency', () => {
  it('a query reads one snapshot: a write committed between its reads is not seen', async () => {
    const open = gate('snap');
    const call = callFn(t, 'twoReads', { gate: 'snap' }, as('alice'));
    await new Promise((r) => setTimeout(r, 50));
    expect((await callFn(t, 'add', { title: 'during the query' }, as('alice'))).status).toBe(200);
    open();
    const { before, after } = (await call).json as { before: number; after: number };
    expect(after).toBe(before);
    expect((await callFn(t, 'mine', {}, as('alice'))).json).toBe(before + 1);
  });

  it('a slow action and a slow query block neither mutations nor other queries', async () => {
    const openAction = gate('action');
    const openQuery = gate('query');
    let actionDone = false;
    let queryDone = false;
    const action = callFn(t, 'slowAction', { gate: 'action' }, as('bob')).then((r) => ((actionDone = true), r));
    const query = callFn(t, 'twoReads', { gate: 'query' }, as('bob')).then((r) => ((queryDone = true), r));
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 5; i++) expect((await callFn(t, 'add', { title: `meanwhile ${i}` }, as('bob'))).status).toBe(200);
    expect((await callFn(t, 'mine', {}, as('bob'))).status).toBe(200);
    expect([actionDone, queryDone]).toEqual([false, false]);
    openAction();
    openQuery();
    expect((await action).json).toMatchObject({ id: expect.any(String) });
    expect((await query).status).toBe(200);
  });
});
