import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyResultDiff, type ResultDiff } from '@mast/protocol';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { callFn, deployFunctions, ownedTodoManifest } from './helpers/functions-app.js';
import { LiveClient } from './helpers/live-client.js';

const ADMIN = 'admin-token-for-socket-watches';
const admin = { authorization: `Bearer ${ADMIN}` };

let t: TestServer;
let wsUrl: string;
/** Listeners on the bus before any watch. */
let idleListeners: number;
/** Every socket a test opened, closed after it. */
const opened: LiveClient[] = [];

async function connect(url: string, token?: string): Promise<LiveClient> {
  const { client } = await LiveClient.connect(url, token === undefined ? {} : { token });
  opened.push(client);
  return client;
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function session(server: TestServer, userId: string): Promise<string> {
  return ((await server.request('POST', '/api/auth/session', { body: { user_id: userId }, headers: admin })).json as { token: string }).token;
}

/** Sends `fn-watch` and resolves with its first result, read from the raw frame (key order as sent). */
async function watch(client: LiveClient, id: string, name: string, args?: unknown): Promise<unknown> {
  client.send({ type: 'fn-watch', id, name, ...(args === undefined ? {} : { args }) });
  const { raw } = await client.nextRaw('fn-watch-result', (m) => m.id === id);
  return (JSON.parse(raw) as { value: unknown }).value;
}

/** The next `fn-watch-diff` of watch `id`, as sent. */
async function nextDiff(client: LiveClient, id: string): Promise<ResultDiff> {
  const { raw } = await client.nextRaw('fn-watch-diff', (m) => m.id === id);
  return (JSON.parse(raw) as { diff: ResultDiff }).diff;
}

/** Unread messages about watch `id`. */
const unreadOf = (client: LiveClient, id: string) => client.unread().filter((m) => 'id' in m && m.id === id);

const insert = (title: string, ownerId: string) => t.request('POST', '/api/entities/Todo', { body: { title, done: false, ownerId } });

beforeAll(async () => {
  t = await startTestServer(testManifest, { adminToken: ADMIN, fnMaxWatches: 4 });
  wsUrl = t.url.replace('http', 'ws') + '/ws';
  idleListeners = t.server.bus.size;
  const set = await deployFunctions(t, {
    todos: `export default query({ args: { owner: v.string() }, handler: (ctx, a) => ctx.db.query('Todo', { ownerId: a.owner, $order: { title: 'asc' } }) });`,
    countOf: `export default query({ args: { owner: v.string() }, handler: async (ctx, a) => (await ctx.db.query('Todo', { ownerId: a.owner })).length });`,
    runsOf: `export default query({ args: { owner: v.string() }, handler: async (ctx, a) => {
      const runs = (globalThis.__watchRuns ??= {});
      runs[a.owner] = (runs[a.owner] ?? 0) + 1;
      return { run: runs[a.owner], titles: (await ctx.db.query('Todo', { ownerId: a.owner, $order: { title: 'asc' } })).map((r) => r.title) };
    } });`,
    fragile: `export default query({ args: { owner: v.string() }, handler: async (ctx, a) => {
      const rows = await ctx.db.query('Todo', { ownerId: a.owner });
      if (rows.some((r) => r.title === 'boom')) throw ctx.error('BOOM', 'A boom row is there');
      if (rows.some((r) => r.title === 'crash')) throw new Error('secret detail');
      return rows.length;
    } });`,
    refuse: `export default query({ handler: (ctx) => { throw ctx.error('NOT_TODAY', 'Refused'); } });`,
    crash: `export default query({ handler: () => { throw new Error('secret detail'); } });`,
    scarce: `export default query({ rateLimit: { max: 2, windowMs: 60_000 }, handler: async (ctx) => (await ctx.db.query('Todo', { ownerId: 'scarce' })).length });`,
    add: `export default mutation({ args: { title: v.string(), owner: v.string() }, handler: (ctx, a) => ctx.db.insert('Todo', { title: a.title, done: false, ownerId: a.owner }) });`,
    addTwo: `export default mutation({ args: { owner: v.string() }, handler: async (ctx, a) => {
      await ctx.db.insert('Todo', { title: 'm1', done: false, ownerId: a.owner });
      await ctx.db.insert('Todo', { title: 'm2', done: false, ownerId: a.owner });
    } });`,
    shout: `export default action({ handler: () => 'hi' });`,
  });
  expect(set.errors).toEqual([]);
});
afterAll(() => t.close());

// Every test ends with its sockets closed and no watch left running: none counted, none on the bus.
afterEach(async () => {
  for (const client of opened.splice(0)) client.close();
  await until(() => t.server.sockets.watchCount === 0 && t.server.bus.size === idleListeners);
});

describe('watching a query function over the socket', () => {
  it('sends the first result, then diffs that rebuild each new result exactly', async () => {
    for (const title of ['b', 'd', 'f']) await insert(title, 'o1');
    const client = await connect(wsUrl);
    let held = await watch(client, 'w', 'todos', { owner: 'o1' });
    const current = async () => (await callFn(t, 'todos', { owner: 'o1' })).text;
    expect(JSON.stringify(held)).toBe(await current());
    expect((held as Array<{ title: string }>).map((r) => r.title)).toEqual(['b', 'd', 'f']);

    // An insert in the middle: one added row at its index, no order.
    const c = (await insert('c', 'o1')).json as { id: string };
    let diff = await nextDiff(client, 'w');
    expect(diff).toEqual({ added: [{ index: 1, row: expect.objectContaining({ id: c.id, title: 'c' }) }], changed: [], removed: [] });
    held = applyResultDiff(held, diff);
    expect(JSON.stringify(held)).toBe(await current());

    // A row that changes and moves: sent in changed, with the kept ids' new order.
    const rows = held as Array<{ id: string; title: string }>;
    const d = rows.find((r) => r.title === 'd')!;
    await t.request('PATCH', `/api/entities/Todo/${d.id}`, { body: { title: 'a' } });
    diff = await nextDiff(client, 'w');
    expect(diff).toEqual({ added: [], changed: [expect.objectContaining({ id: d.id, title: 'a' })], removed: [], order: [d.id, rows[0]!.id, c.id, rows[3]!.id] });
    held = applyResultDiff(held, diff);
    expect(JSON.stringify(held)).toBe(await current());

    // A delete: its id in removed.
    const b = (held as Array<{ id: string; title: string }>).find((r) => r.title === 'b')!;
    await t.request('DELETE', `/api/entities/Todo/${b.id}`);
    diff = await nextDiff(client, 'w');
    expect(diff).toEqual({ added: [], changed: [], removed: [b.id] });
    held = applyResultDiff(held, diff);
    expect(JSON.stringify(held)).toBe(await current());

    // One mutation's two inserts commit together: one diff with both.
    await callFn(t, 'addTwo', { owner: 'o1' });
    diff = await nextDiff(client, 'w');
    expect('added' in diff && diff.added.map((a) => a.row.title)).toEqual(['m1', 'm2']);
    held = applyResultDiff(held, diff);
    expect(JSON.stringify(held)).toBe(await current());
    expect(unreadOf(client, 'w')).toEqual([]);
  });

  it('a result that is not an array of rows changes as a whole value', async () => {
    const client = await connect(wsUrl);
    expect(await watch(client, 'n', 'countOf', { owner: 'o-count' })).toBe(0);
    await insert('x', 'o-count');
    expect(await nextDiff(client, 'n')).toEqual({ value: 1 });
  });

  it('a write to an entity the query did not read runs nothing and sends nothing', async () => {
    const client = await connect(wsUrl);
    const first = (await watch(client, 'r', 'runsOf', { owner: 'u1' })) as { run: number; titles: string[] };
    expect(first.titles).toEqual([]);
    // A User write: the query read only Todo, so it must not run again.
    expect((await t.request('POST', '/api/entities/User', { body: { email: 'unrelated@x' } })).status).toBe(201);
    // Each run bumps `run`, so any extra run would show as a skipped or extra value.
    await insert('A', 'u1');
    expect(await nextDiff(client, 'r')).toEqual({ value: { run: first.run + 1, titles: ['A'] } });
    await insert('B', 'u1');
    expect(await nextDiff(client, 'r')).toEqual({ value: { run: first.run + 2, titles: ['A', 'B'] } });
    expect(unreadOf(client, 'r')).toEqual([]);
  });

  it('fn-unwatch answers ack and stops deliveries; the id can be used again', async () => {
    const client = await connect(wsUrl);
    const bus = t.server.bus.size;
    await watch(client, 'a', 'countOf', { owner: 'o-unwatch' });
    await watch(client, 'b', 'countOf', { owner: 'o-unwatch' });
    expect(t.server.bus.size).toBe(bus + 2);
    client.send({ type: 'fn-unwatch', id: 'a' });
    expect(await client.next('ack', (m) => m.id === 'a')).toEqual({ type: 'ack', id: 'a' });
    expect(t.server.bus.size).toBe(bus + 1);
    await insert('x', 'o-unwatch');
    expect(await nextDiff(client, 'b')).toEqual({ value: 1 });
    await insert('y', 'o-unwatch');
    expect(await nextDiff(client, 'b')).toEqual({ value: 2 });
    expect(unreadOf(client, 'a')).toEqual([]);
    // The id is free again: a new watch under it starts from a first result.
    expect(await watch(client, 'a', 'countOf', { owner: 'o-unwatch' })).toBe(2);
  });

  it('closing the socket stops its watches, also those whose first run is in progress: nothing is left behind', async () => {
    const before = { watches: t.server.sockets.watchCount, bus: t.server.bus.size };
    const client = await connect(wsUrl);
    for (const id of ['c1', 'c2', 'c3']) await watch(client, id, 'todos', { owner: 'o-close' });
    expect(t.server.sockets.watchCount).toBe(before.watches + 3);
    expect(t.server.bus.size).toBe(before.bus + 3);
    const metrics = await t.request('GET', '/metrics', { headers: admin });
    expect(metrics.text).toMatch(new RegExp(`^mast_fn_watches ${before.watches + 3}$`, 'm'));
    client.send({ type: 'fn-unwatch', id: 'c3' });
    client.send({ type: 'fn-watch', id: 'c4', name: 'todos', args: { owner: 'o-close' } });
    client.close();
    await until(() => t.server.sockets.watchCount === before.watches && t.server.bus.size === before.bus);
    // Writes afterwards still work and start nothing.
    await insert('after close', 'o-close');
    expect(t.server.sockets.watchCount).toBe(before.watches);
    expect(t.server.bus.size).toBe(before.bus);
    expect((await t.request('GET', '/metrics', { headers: admin })).text).toMatch(new RegExp(`^mast_fn_watches ${before.watches}$`, 'm'));
  });

  it('a re-run that fails answers error with the watch id and ends that watch only', async () => {
    const client = await connect(wsUrl);
    const watches = t.server.sockets.watchCount;
    await watch(client, 'f', 'fragile', { owner: 'o-fail' });
    await watch(client, 'g', 'fragile', { owner: 'o-fail' });
    await watch(client, 'other', 'countOf', { owner: 'o-fail' });
    await insert('boom', 'o-fail');
    expect(await client.next('error', (m) => m.id === 'f')).toEqual({ type: 'error', id: 'f', code: 'BOOM', message: 'A boom row is there' });
    expect(await client.next('error', (m) => m.id === 'g')).toMatchObject({ code: 'BOOM' });
    expect(await nextDiff(client, 'other')).toEqual({ value: 1 });
    expect(t.server.sockets.watchCount).toBe(watches + 1);
    // The failed watches are gone: another change sends them nothing, and unwatching them is NOT_FOUND.
    await insert('more', 'o-fail');
    expect(await nextDiff(client, 'other')).toEqual({ value: 2 });
    expect(unreadOf(client, 'f')).toEqual([]);
    client.send({ type: 'fn-unwatch', id: 'f' });
    expect(await client.next('error', (m) => m.id === 'f')).toMatchObject({ code: 'NOT_FOUND' });
    // A failure that is not the author's is HANDLER_ERROR, without the thrown message.
    await watch(client, 'h', 'fragile', { owner: 'o-crash' });
    await insert('crash', 'o-crash');
    const crashed = await client.next('error', (m) => m.id === 'h');
    expect(crashed).toMatchObject({ code: 'HANDLER_ERROR', message: 'Internal handler error' });
    expect(JSON.stringify(crashed)).not.toContain('secret');
    expect(t.server.sockets.watchCount).toBe(watches + 1);
  });
});

describe("bad watch requests: the precise error, and the socket's other watches keep working", () => {
  const cases: Array<[string, Record<string, unknown>, string, string?]> = [
    ['an unknown function', { type: 'fn-watch', id: 'bad', name: 'nope' }, 'FN_NOT_FOUND'],
    ['a mutation', { type: 'fn-watch', id: 'bad', name: 'add', args: { title: 'x', owner: 'x' } }, 'FN_TYPE_MISMATCH', 'not a query'],
    ['an action', { type: 'fn-watch', id: 'bad', name: 'shout' }, 'FN_TYPE_MISMATCH', 'not a query'],
    ['wrong argument types', { type: 'fn-watch', id: 'bad', name: 'todos', args: { owner: 5 } }, 'INVALID_ARGS', 'owner: '],
    ['missing arguments', { type: 'fn-watch', id: 'bad', name: 'todos' }, 'INVALID_ARGS'],
    ['arguments that are not an object', { type: 'fn-watch', id: 'bad', name: 'todos', args: ['o'] }, 'INVALID_ARGS'],
    ["a first run that raises the author's error", { type: 'fn-watch', id: 'bad', name: 'refuse' }, 'NOT_TODAY', 'Refused'],
    ['a first run that throws', { type: 'fn-watch', id: 'bad', name: 'crash' }, 'HANDLER_ERROR', 'Internal handler error'],
    ['a watch without a name', { type: 'fn-watch', id: 'bad' }, 'INVALID_MESSAGE', 'name'],
    ['a watch with an empty name', { type: 'fn-watch', id: 'bad', name: '' }, 'INVALID_MESSAGE', 'name'],
    ['a watch id over 128 characters', { type: 'fn-watch', id: 'x'.repeat(129), name: 'todos', args: { owner: 'x' } }, 'INVALID_MESSAGE'],
    ['the id of a watch already open', { type: 'fn-watch', id: 'good', name: 'countOf', args: { owner: 'o-bad' } }, 'DUPLICATE_SUBSCRIPTION'],
    ['fn-unwatch of an unknown id', { type: 'fn-unwatch', id: 'bad' }, 'NOT_FOUND'],
    ['fn-unwatch without an id', { type: 'fn-unwatch' }, 'INVALID_MESSAGE'],
  ];
  for (const [what, message, code, text] of cases) {
    it(`${what}: ${code}`, async () => {
      const client = await connect(wsUrl);
      const watches = t.server.sockets.watchCount;
      const bus = t.server.bus.size;
      const start = (await watch(client, 'good', 'countOf', { owner: 'o-bad' })) as number;
      client.send(message);
      const id = typeof message.id === 'string' && message.id.length <= 128 ? message.id : undefined;
      const error = await client.next('error', (m) => m.id === id);
      expect(error.code).toBe(code);
      if (text !== undefined) expect(error.message).toContain(text);
      expect(JSON.stringify(error)).not.toContain('secret');
      // Nothing else came for the bad request, and it holds nothing.
      expect(client.unread().filter((m) => m.type !== 'hello')).toEqual([]);
      expect(t.server.sockets.watchCount).toBe(watches + 1);
      expect(t.server.bus.size).toBe(bus + 1);
      // The good watch still follows its query.
      await insert(`after ${what}`, 'o-bad');
      expect(await nextDiff(client, 'good')).toEqual({ value: start + 1 });
    });
  }

  it('a socket holds at most MAST_FN_MAX_WATCHES watches: one more is TOO_MANY_SUBSCRIPTIONS until one ends', async () => {
    const client = await connect(wsUrl);
    for (const id of ['1', '2', '3', '4']) await watch(client, id, 'countOf', { owner: 'o-cap' });
    client.send({ type: 'fn-watch', id: '5', name: 'countOf', args: { owner: 'o-cap' } });
    expect(await client.next('error', (m) => m.id === '5')).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS', message: 'A socket holds at most 4 watches' });
    // Another socket has its own allowance.
    const other = await connect(wsUrl);
    expect(await watch(other, '5', 'countOf', { owner: 'o-cap' })).toBe(0);
    client.send({ type: 'fn-unwatch', id: '1' });
    await client.next('ack', (m) => m.id === '1');
    expect(await watch(client, '5', 'countOf', { owner: 'o-cap' })).toBe(0);
    await insert('x', 'o-cap');
    for (const id of ['2', '3', '4', '5']) expect(await nextDiff(client, id)).toEqual({ value: 1 });
    expect(unreadOf(client, '1')).toEqual([]);
  });

  it("starting a watch counts against the function's call limit, shared with fn-call; re-runs do not", async () => {
    const carol = await session(t, 'carol');
    const client = await connect(wsUrl, carol);
    expect(await watch(client, 's1', 'scarce')).toBe(0);
    expect(await watch(client, 's2', 'scarce')).toBe(0);
    client.send({ type: 'fn-watch', id: 's3', name: 'scarce' });
    expect(await client.next('error', (m) => m.id === 's3')).toMatchObject({ code: 'RATE_LIMITED', retry_after_secs: expect.any(Number) });
    client.send({ type: 'fn-call', id: 'call', name: 'scarce' });
    expect(await client.next('error', (m) => m.id === 'call')).toMatchObject({ code: 'RATE_LIMITED' });
    for (let i = 1; i <= 3; i++) {
      await insert(`s${i}`, 'scarce');
      expect(await nextDiff(client, 's1')).toEqual({ value: i });
      expect(await nextDiff(client, 's2')).toEqual({ value: i });
    }
    // Another caller is not affected.
    const dave = await connect(wsUrl, await session(t, 'dave'));
    expect(await watch(dave, 's3', 'scarce')).toBe(3);
  });
});

describe('watches read as the socket caller', () => {
  let p: TestServer;
  let pUrl: string;

  beforeAll(async () => {
    p = await startTestServer(ownedTodoManifest('fn-watch-policy'), { adminToken: ADMIN });
    pUrl = p.url.replace('http', 'ws') + '/ws';
    const set = await deployFunctions(p, {
      mine: `export default query({ handler: (ctx) => ctx.db.query('Todo', { $order: { title: 'asc' } }) });`,
      add: `export default mutation({ args: { title: v.string() }, handler: (ctx, a) => ctx.db.insert('Todo', { title: a.title, ownerId: ctx.auth.userId }) });`,
    });
    expect(set.errors).toEqual([]);
  });
  afterAll(() => p.close());

  it("an owner-only policy: a watch never shows another user's rows, and a row that changes owner leaves one watch for the other", async () => {
    const tokens = { alice: await session(p, 'alice'), bob: await session(p, 'bob') };
    /** The query's result as `user` sees it now, over HTTP, as text. */
    const asSeenBy = async (user: keyof typeof tokens) => (await callFn(p, 'mine', undefined, { authorization: `Bearer ${tokens[user]}` })).text;
    const bob = await connect(pUrl, tokens.bob);
    bob.send({ type: 'fn-call', id: 'b1', name: 'add', args: { title: 'bob-secret-1' } });
    await bob.next('fn-result', (m) => m.id === 'b1');
    const alice = await connect(pUrl, tokens.alice);
    const anon = await connect(pUrl);
    let aliceHeld = await watch(alice, 'm', 'mine');
    expect(aliceHeld).toEqual([]);
    // The policy refuses the anonymous caller outright: an error, and no watch.
    anon.send({ type: 'fn-watch', id: 'm', name: 'mine' });
    expect(await anon.next('error', (m) => m.id === 'm')).toMatchObject({ code: 'POLICY_DENIED' });
    let bobHeld = await watch(bob, 'm', 'mine');
    expect((bobHeld as Array<{ title: string }>).map((r) => r.title)).toEqual(['bob-secret-1']);

    // Bob's insert re-runs Alice's watch, but her result does not change: she gets nothing, and
    // her next message is about her own insert alone.
    bob.send({ type: 'fn-call', id: 'b2', name: 'add', args: { title: 'bob-secret-2' } });
    await bob.next('fn-result', (m) => m.id === 'b2');
    bobHeld = applyResultDiff(bobHeld, await nextDiff(bob, 'm'));
    expect(JSON.stringify(bobHeld)).toBe(await asSeenBy('bob'));
    alice.send({ type: 'fn-call', id: 'a1', name: 'add', args: { title: 'alice-1' } });
    const { value: aliceId } = await alice.next('fn-result', (m) => m.id === 'a1');
    aliceHeld = applyResultDiff(aliceHeld, await nextDiff(alice, 'm'));
    expect(aliceHeld).toEqual([{ id: aliceId, title: 'alice-1', ownerId: 'alice' }]);
    expect(JSON.stringify(aliceHeld)).toBe(await asSeenBy('alice'));
    expect(unreadOf(alice, 'm')).toEqual([]);
    expect(unreadOf(bob, 'm')).toEqual([]);

    // The admin gives Alice's row to Bob: it leaves her watch and enters his.
    expect((await p.request('PATCH', `/api/entities/Todo/${String(aliceId)}`, { body: { ownerId: 'bob' }, headers: admin })).status).toBe(200);
    aliceHeld = applyResultDiff(aliceHeld, await nextDiff(alice, 'm'));
    expect(aliceHeld).toEqual([]);
    bobHeld = applyResultDiff(bobHeld, await nextDiff(bob, 'm'));
    expect((bobHeld as Array<{ title: string; ownerId: string }>).map((r) => [r.title, r.ownerId])).toEqual([
      ['alice-1', 'bob'],
      ['bob-secret-1', 'bob'],
      ['bob-secret-2', 'bob'],
    ]);
    expect(JSON.stringify(bobHeld)).toBe(await asSeenBy('bob'));

    // Nothing of Bob's ever reached Alice's or the anonymous socket.
    expect(alice.frames.join('\n')).not.toContain('bob-secret');
    expect(anon.frames.join('\n')).not.toContain('bob-secret');
    expect(anon.unread()).toEqual([]);
    expect(p.server.sockets.watchCount).toBe(2);
    for (const c of opened.splice(0)) c.close();
    await until(() => p.server.sockets.watchCount === 0);
  });
});
