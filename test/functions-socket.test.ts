import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { deployFunctions, ownedTodoManifest } from './helpers/functions-app.js';
import { LiveClient } from './helpers/live-client.js';

const ADMIN = 'admin-token-for-socket-functions';
const manifest = ownedTodoManifest('fn-socket');

/** What the handlers report back to the test (they run in this process). */
const seen = ((globalThis as { __fnSeen?: Record<string, unknown> }).__fnSeen ??= {});

let t: TestServer;
let wsUrl: string;
let alice: string;
const admin = { authorization: `Bearer ${ADMIN}` };
const count = async () => ((await t.request('GET', '/api/entities/Todo?limit=1000', { headers: admin })).json as { count: number }).count;

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  t = await startTestServer(manifest, { adminToken: ADMIN, fnTimeout: 5000 });
  wsUrl = t.url.replace('http', 'ws') + '/ws';
  alice = ((await t.request('POST', '/api/auth/session', { body: { user_id: 'alice' }, headers: admin })).json as { token: string }).token;
  const set = await deployFunctions(t, {
    whoami: `export default query({ handler: (ctx) => ctx.auth.userId });`,
    scarce: `export default query({ rateLimit: { max: 2, windowMs: 60_000 }, handler: (ctx) => ctx.auth.userId });`,
    add: `export default mutation({ args: { title: v.string() }, handler: async (ctx, a) => ({ id: await ctx.db.insert('Todo', { title: a.title, ownerId: ctx.auth.userId }) }) });`,
    addTwoThenThrow: `export default mutation({ handler: async (ctx) => {
      await ctx.db.insert('Todo', { title: 'one', ownerId: ctx.auth.userId });
      await ctx.db.insert('Todo', { title: 'two', ownerId: ctx.auth.userId });
      throw new Error('secret');
    } });`,
    refuse: `export default mutation({ handler: (ctx) => { throw ctx.error('QUOTA_EXCEEDED', 'Too many'); } });`,
    queryWrites: `export default query({ handler: (ctx) => ctx.db.insert('Todo', { title: 'x', ownerId: 'x' }) });`,
    queryCallsMutation: `export default query({ handler: (ctx) => ctx.runMutation('add', { title: 'no' }) });`,
    count: `export default action({ args: { to: v.int() }, handler: async (ctx, a) => {
      for (let i = 1; i <= a.to; i++) ctx.stream.write({ i });
      return 'done';
    } });`,
    endless: `export default action({ args: { key: v.string() }, handler: async (ctx, a) => {
      ctx.signal.addEventListener('abort', () => { globalThis.__fnSeen[a.key] = ctx.signal.reason?.code ?? 'aborted'; });
      ctx.stream.write('started');
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      return 'stopped';
    } });`,
  });
  expect(set.errors).toEqual([]);
});
afterAll(() => t.close());

describe('calling functions over the socket', () => {
  it('answers fn-result with the call id, as the socket caller', async () => {
    const { client } = await LiveClient.connect(wsUrl, { token: alice });
    const anon = (await LiveClient.connect(wsUrl)).client;
    client.send({ type: 'fn-call', id: 'c1', name: 'whoami' });
    anon.send({ type: 'fn-call', id: 'c1', name: 'whoami', args: {} });
    expect(await client.next('fn-result')).toEqual({ type: 'fn-result', id: 'c1', value: 'alice' });
    expect(await anon.next('fn-result')).toEqual({ type: 'fn-result', id: 'c1', value: null });
    const rows = await count();
    client.send({ type: 'fn-call', id: 'c2', name: 'add', args: { title: 'over the socket' } });
    const added = await client.next('fn-result', (m) => m.id === 'c2');
    expect(added.value).toEqual({ id: expect.any(String) });
    expect(await count()).toBe(rows + 1);
    client.close();
    anon.close();
  });

  it('an opId makes a retried mutation call return the first result and write once', async () => {
    const { client } = await LiveClient.connect(wsUrl, { token: alice });
    const rows = await count();
    client.send({ type: 'fn-call', id: 'a', name: 'add', args: { title: 'once' }, opId: 'op-1' });
    const first = await client.next('fn-result', (m) => m.id === 'a');
    client.send({ type: 'fn-call', id: 'b', name: 'add', args: { title: 'once' }, opId: 'op-1' });
    const again = await client.next('fn-result', (m) => m.id === 'b');
    expect(again.value).toEqual(first.value);
    expect(await count()).toBe(rows + 1);
    client.close();
  });

  it('streams an action: fn-chunk messages in order, then fn-result', async () => {
    const { client } = await LiveClient.connect(wsUrl, { token: alice });
    client.send({ type: 'fn-call', id: 's', name: 'count', args: { to: 3 } });
    const result = await client.next('fn-result');
    const chunks = client.frames.map((f) => JSON.parse(f) as { type: string }).filter((m) => m.type === 'fn-chunk');
    expect(chunks).toEqual([0, 1, 2].map((index) => ({ type: 'fn-chunk', id: 's', index, data: { i: index + 1 } })));
    expect(result).toEqual({ type: 'fn-result', id: 's', value: 'done' });
    // The result is the last frame of the call.
    expect(JSON.parse(client.frames.at(-1)!)).toEqual(result);
    client.close();
  });

  it('fn-cancel ends a running call with FN_CANCELLED and aborts its signal', async () => {
    const { client } = await LiveClient.connect(wsUrl, { token: alice });
    client.send({ type: 'fn-call', id: 'long', name: 'endless', args: { key: 'cancelled' } });
    await client.next('fn-chunk');
    client.send({ type: 'fn-call', id: 'long', name: 'endless', args: { key: 'dup' } });
    expect(await client.next('error', (m) => m.id === 'long')).toMatchObject({ code: 'INVALID_MESSAGE' });
    client.send({ type: 'fn-cancel', id: 'long' });
    expect(await client.next('error', (m) => m.id === 'long')).toMatchObject({ code: 'FN_CANCELLED' });
    expect(seen['cancelled']).toBe('FN_CANCELLED');
    client.send({ type: 'fn-cancel', id: 'long' });
    expect(await client.next('error', (m) => m.id === 'long')).toMatchObject({ code: 'NOT_FOUND' });
    client.close();
  });

  it('closing the socket cancels its calls in flight', async () => {
    const { client } = await LiveClient.connect(wsUrl, { token: alice });
    client.send({ type: 'fn-call', id: 'long', name: 'endless', args: { key: 'closed' } });
    await client.next('fn-chunk');
    client.close();
    await until(() => seen['closed'] !== undefined);
    expect(seen['closed']).toBe('FN_CANCELLED');
  });
});

describe('bad calls over the socket: the same errors as HTTP, the socket stays open, nothing partial is written', () => {
  const cases: Array<[string, Record<string, unknown>, string, string?]> = [
    ['an unknown function', { name: 'nope' }, 'FN_NOT_FOUND'],
    ['wrong argument types', { name: 'add', args: { title: 5 } }, 'INVALID_ARGS', 'title: '],
    ['arguments that are not an object', { name: 'add', args: [1] }, 'INVALID_ARGS'],
    ['a handler that throws', { name: 'addTwoThenThrow' }, 'HANDLER_ERROR', 'Internal handler error'],
    ["the author's error", { name: 'refuse' }, 'QUOTA_EXCEEDED', 'Too many'],
    ['a query that writes', { name: 'queryWrites' }, 'FN_TYPE_MISMATCH'],
    ['a query that calls a mutation', { name: 'queryCallsMutation' }, 'FN_TYPE_MISMATCH', 'cannot call other functions'],
  ];
  for (const [what, call, code, message] of cases) {
    it(`${what}: ${code}`, async () => {
      const { client } = await LiveClient.connect(wsUrl, { token: alice });
      const rows = await count();
      client.send({ type: 'fn-call', id: 'bad', ...call });
      const error = await client.next('error', (m) => m.id === 'bad');
      expect(error.code).toBe(code);
      if (message !== undefined) expect(error.message).toContain(message);
      expect(JSON.stringify(error)).not.toContain('secret');
      expect(await count()).toBe(rows);
      client.send({ type: 'fn-call', id: 'after', name: 'whoami' });
      expect((await client.next('fn-result')).value).toBe('alice');
      client.close();
    });
  }

  it('malformed messages: INVALID_MESSAGE with the id when readable, UNKNOWN_MESSAGE for a wrong type', async () => {
    const { client } = await LiveClient.connect(wsUrl, { token: alice });
    client.send({ type: 'fn-call', id: 'm1' });
    expect(await client.next('error', (m) => m.id === 'm1')).toMatchObject({ code: 'INVALID_MESSAGE', message: expect.stringContaining('name') });
    client.send({ type: 'fn-call', name: 'whoami' });
    expect(await client.next('error')).toMatchObject({ code: 'INVALID_MESSAGE' });
    client.send({ type: 'fn-call', id: 'm2', name: 'add', opId: '' });
    expect(await client.next('error', (m) => m.id === 'm2')).toMatchObject({ code: 'INVALID_MESSAGE' });
    client.send({ type: 'fn-invoke', id: 'm3', name: 'whoami' });
    expect(await client.next('error', (m) => m.id === 'm3')).toMatchObject({ code: 'UNKNOWN_MESSAGE' });
    client.send({ type: 'fn-call', id: 'ok', name: 'whoami' });
    expect((await client.next('fn-result')).value).toBe('alice');
    client.close();
  });
});

describe('the per-function call limit', () => {
  it('counts one caller over HTTP and the socket together, answers 429 RATE_LIMITED past it, and leaves other callers alone', async () => {
    const bob = ((await t.request('POST', '/api/auth/session', { body: { user_id: 'bob' }, headers: admin })).json as { token: string }).token;
    const asAlice = { authorization: `Bearer ${alice}` };
    expect((await t.request('POST', '/api/fn/scarce', { headers: asAlice })).status).toBe(200);
    const { client } = await LiveClient.connect(wsUrl, { token: alice });
    client.send({ type: 'fn-call', id: 'one', name: 'scarce' });
    expect((await client.next('fn-result')).value).toBe('alice');
    client.send({ type: 'fn-call', id: 'two', name: 'scarce' });
    expect(await client.next('error', (m) => m.id === 'two')).toMatchObject({ code: 'RATE_LIMITED', retry_after_secs: expect.any(Number) });
    const http = await t.request('POST', '/api/fn/scarce', { headers: asAlice });
    expect([http.status, (http.json as { error: { code: string } }).error.code]).toEqual([429, 'RATE_LIMITED']);
    // Another caller, another function and an admin are not affected.
    expect((await t.request('POST', '/api/fn/scarce', { headers: { authorization: `Bearer ${bob}` } })).json).toBe('bob');
    expect((await t.request('POST', '/api/fn/whoami', { headers: asAlice })).json).toBe('alice');
    for (let i = 0; i < 3; i++) expect((await t.request('POST', '/api/fn/scarce', { headers: admin })).status).toBe(200);
    client.close();
  });
});
