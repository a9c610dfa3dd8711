import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { callFn, deployFunctions } from './helpers/functions-app.js';

let t: TestServer;
let slow: Server;
let slowUrl: string;
const counters = ((globalThis as { __fnCounters?: Record<string, number> }).__fnCounters ??= {});
const head = async () => (await t.server.store.changeLogBounds()).head;
const rows = async () => ((await t.request('GET', '/api/entities/Todo?limit=1000')).json as { count: number }).count;
const error = (res: { json: unknown }) => (res.json as { error: { code: string; message: string } }).error;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A counter a zombie handler keeps bumping would keep changing; a stopped one does not. */
async function stopped(name: string): Promise<boolean> {
  await sleep(50);
  const seen = counters[name];
  await sleep(150);
  return counters[name] === seen;
}

beforeAll(async () => {
  // An outside service that answers only after 5 s.
  slow = createServer((_req, res) => setTimeout(() => res.end('late'), 5000).unref());
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`;
  t = await startTestServer(testManifest, { fnTimeout: 600, fnMutationTimeout: 1000, fnIdle: 150 });
  const count = (name: string) => `globalThis.__fnCounters[${JSON.stringify(name)}] = (globalThis.__fnCounters[${JSON.stringify(name)}] ?? 0) + 1;`;
  const set = await deployFunctions(t, {
    never: `export default query({ handler: () => new Promise(() => {}) });`,
    quick: `export default query({ handler: async (ctx) => (await ctx.db.query('Todo', { $limit: 1 })).length });`,
    add: `export default mutation({ args: { title: v.string() }, handler: (ctx, a) => ctx.db.insert('Todo', { title: a.title, done: false }) });`,
    queryLoop: `export default query({ handler: async (ctx) => { for (;;) { ${count('queryLoop')} await ctx.db.query('Todo', { $limit: 1 }); } } });`,
    insertLoop: `export default mutation({ handler: async (ctx) => { for (;;) { ${count('insertLoop')} await ctx.db.insert('Todo', { title: 'loop', done: false }); } } });`,
    actionLoop: `export default action({ handler: async (ctx) => {
      ctx.signal.addEventListener('abort', () => { globalThis.__fnCounters.aborted = 1; });
      for (;;) { ${count('actionLoop')} await ctx.runQuery('quick'); await new Promise((r) => setTimeout(r, 5)); }
    } });`,
    fetchInMutation: `export default mutation({ args: { url: v.string() }, handler: async (ctx, a) => {
      await ctx.db.insert('Todo', { title: 'before fetch', done: false });
      return (await fetch(a.url)).text();
    } });`,
    fetchInAction: `export default action({ args: { url: v.string() }, handler: async (ctx, a) => {
      const res = await fetch(a.url, { signal: ctx.signal }).catch(() => null);
      return res === null ? 'aborted' : 'answered';
    } });`,
    readThenFetch: `export default query({ args: { url: v.string() }, handler: async (ctx, a) => {
      await ctx.db.query('Todo', { $limit: 1 });
      return (await fetch(a.url)).text();
    } });`,
    waitThenRead: `export default query({ handler: async (ctx) => {
      await new Promise((r) => setTimeout(r, 200));
      return (await ctx.db.query('Todo', { $limit: 1 })).length;
    } });`,
    readThenHang: `export default query({ handler: async (ctx) => { await ctx.db.get('Todo', 'x'); await new Promise(() => {}); } });`,
    bigint: `export default query({ handler: () => ({ n: 10n }) });`,
    cycle: `export default query({ handler: () => { const a = { self: null }; a.self = a; return a; } });`,
    notFinite: `export default query({ handler: () => [1, NaN] });`,
    aFunction: `export default query({ handler: () => ({ f() {} }) });`,
    date: `export default query({ handler: () => ({ at: new Date(0) }) });`,
    insertThenBigint: `export default mutation({ handler: async (ctx) => { await ctx.db.insert('Todo', { title: 'then bigint', done: false }); return 1n; } });`,
    badReturn: `export default query({ returns: v.string(), handler: () => 42 });`,
    goodReturn: `export default query({ returns: v.object({ ok: v.boolean() }), handler: () => ({ ok: true }) });`,
    queryWrites: `export default query({ handler: (ctx) => ctx.db.insert('Todo', { title: 'no', done: false }) });`,
    queryCallsMutation: `export default query({ handler: (ctx) => ctx.runMutation('add', { title: 'no' }) });`,
    mutationCallsMutation: `export default mutation({ handler: (ctx) => ctx.runMutation('add', { title: 'no' }) });`,
    actionRunsMutationAsQuery: `export default action({ handler: (ctx) => ctx.runQuery('add', { title: 'no' }) });`,
    actionRunsBadArgs: `export default action({ handler: (ctx) => ctx.runMutation('add', { title: 5 }) });`,
    actionRuns: `export default action({ handler: async (ctx) => ({ id: await ctx.runMutation('add', { title: 'via action' }), n: await ctx.runQuery('quick') }) });`,
  });
  expect(set.errors).toEqual([]);
});
afterAll(async () => {
  slow.closeAllConnections();
  await new Promise((resolve) => slow.close(resolve));
  await t.close();
});

describe('per-call deadlines fail that call only', () => {
  it('a query that never returns is FN_TIMEOUT while other calls in flight succeed', async () => {
    const hung = callFn(t, 'never');
    const others = await Promise.all([callFn(t, 'quick'), callFn(t, 'add', { title: 'meanwhile' }), t.request('GET', '/api/entities/Todo')]);
    expect(others.map((r) => r.status)).toEqual([200, 200, 200]);
    const res = await hung;
    expect([res.status, error(res).code]).toEqual([400, 'FN_TIMEOUT']);
    expect(error(res).message).toMatch(/"never" did not finish within 600 ms/);
  });

  it('a query looping over ctx.db times out, and its loop stops (its snapshot is closed)', async () => {
    const res = await callFn(t, 'queryLoop');
    expect(error(res).code).toBe('FN_TIMEOUT');
    expect(counters.queryLoop).toBeGreaterThan(1);
    expect(await stopped('queryLoop')).toBe(true);
  });

  it('a mutation looping over inserts times out and writes nothing', async () => {
    const [before, seq] = [await rows(), await head()];
    const res = await callFn(t, 'insertLoop');
    expect(error(res).code).toBe('FN_TIMEOUT');
    expect(counters.insertLoop).toBeGreaterThan(10);
    expect(await stopped('insertLoop')).toBe(true);
    expect([await rows(), await head()]).toEqual([before, seq]);
  });

  it('an action looping over awaits times out, and its signal is aborted', async () => {
    const res = await callFn(t, 'actionLoop');
    expect(error(res).code).toBe('FN_TIMEOUT');
    expect(counters.aborted).toBe(1);
    expect(await stopped('actionLoop')).toBe(true);
  });

  it('an action passing ctx.signal to fetch has the request cancelled at the deadline', async () => {
    const res = await callFn(t, 'fetchInAction', { url: slowUrl });
    expect(error(res).code).toBe('FN_TIMEOUT');
  });
});

describe('a mutation that awaits outside I/O holds the writer', () => {
  it('is rolled back with FN_MUTATION_BLOCKED, telling to use an action; other writes go on', async () => {
    const [before, seq] = [await rows(), await head()];
    const blocked = callFn(t, 'fetchInMutation', { url: slowUrl });
    await sleep(20);
    const rest = await t.request('POST', '/api/entities/Todo', { body: { title: 'queued behind it', done: false } });
    expect(rest.status).toBe(201);
    const res = await blocked;
    expect([res.status, error(res).code]).toEqual([400, 'FN_MUTATION_BLOCKED']);
    expect(error(res).message).toMatch(/fetchInMutation/);
    expect(res.json).toMatchObject({ error: { hint: expect.stringMatching(/action/) } });
    expect([await rows(), await head()]).toEqual([before + 1, seq + 1]);
  });
});

describe('a query holding its snapshot must not await outside I/O', () => {
  it('a read, then a slow fetch, is FN_QUERY_BLOCKED, telling to use an action', async () => {
    const res = await callFn(t, 'readThenFetch', { url: slowUrl });
    expect([res.status, error(res).code]).toEqual([400, 'FN_QUERY_BLOCKED']);
    expect(res.json).toMatchObject({ error: { hint: expect.stringMatching(/action/) } });
  });

  it('waiting before the first read holds no snapshot and is fine', async () => {
    expect((await callFn(t, 'waitThenRead')).status).toBe(200);
  });

  it('more hung queries than reader connections are cut loose, and REST reads go on', async () => {
    const hung = Array.from({ length: 6 }, () => callFn(t, 'readThenHang'));
    await sleep(20);
    expect((await t.request('GET', '/api/entities/Todo')).status).toBe(200);
    // Those that first waited for a free reader may reach their deadline before the watchdog.
    const codes = (await Promise.all(hung)).map((r) => error(r).code);
    expect(codes.filter((c) => c === 'FN_QUERY_BLOCKED').length).toBeGreaterThanOrEqual(4);
    expect(codes.every((c) => c === 'FN_QUERY_BLOCKED' || c === 'FN_TIMEOUT')).toBe(true);
  });
});

describe('return values must be JSON', () => {
  it.each([
    ['a BigInt', 'bigint'],
    ['a cycle', 'cycle'],
    ['NaN', 'notFinite'],
    ['a function', 'aFunction'],
  ])('%s is FN_RESULT_INVALID', async (_what, name) => {
    const res = await callFn(t, name);
    expect([res.status, error(res).code]).toEqual([400, 'FN_RESULT_INVALID']);
  });

  it('a mutation returning a BigInt is rolled back', async () => {
    const seq = await head();
    expect(error(await callFn(t, 'insertThenBigint')).code).toBe('FN_RESULT_INVALID');
    expect(await head()).toBe(seq);
  });

  it('a "returns" validator is enforced; dates become ISO strings', async () => {
    expect(error(await callFn(t, 'badReturn')).code).toBe('FN_RESULT_INVALID');
    expect((await callFn(t, 'goodReturn')).json).toEqual({ ok: true });
    expect((await callFn(t, 'date')).json).toEqual({ at: '1970-01-01T00:00:00.000Z' });
  });
});

describe('each kind does only what it may', () => {
  it.each([
    ['a query writing', 'queryWrites', /cannot write/],
    ['a query calling a mutation', 'queryCallsMutation', /query cannot call/],
    ['a mutation calling a mutation', 'mutationCallsMutation', /mutation cannot call/],
    ['an action running a mutation as a query', 'actionRunsMutationAsQuery', /"add" is a mutation, not a query/],
  ])('%s is FN_TYPE_MISMATCH', async (_what, name, message) => {
    const seq = await head();
    const res = await callFn(t, name);
    expect([res.status, error(res).code]).toEqual([400, 'FN_TYPE_MISMATCH']);
    expect(error(res).message).toMatch(message);
    expect(await head()).toBe(seq);
  });

  it('an action runs queries and mutations; their errors pass through', async () => {
    expect((await callFn(t, 'actionRuns')).json).toMatchObject({ id: expect.any(String), n: 1 });
    expect(error(await callFn(t, 'actionRunsBadArgs')).code).toBe('INVALID_ARGS');
  });
});
