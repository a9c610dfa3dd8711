import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { applyResultDiff, resultDiff } from '@mast/protocol';
import { callFn, deployFunctions } from './helpers/functions-app.js';

let t: TestServer;

/** A watch stream: its events as they arrive, and a way to wait for the n-th. */
async function watch(
  name: string,
  args?: unknown,
  diff = false,
): Promise<{ status: number; body?: unknown; events: Array<{ event: string; data: unknown }>; nth(n: number): Promise<{ event: string; data: unknown }>; close(): void }> {
  const controller = new AbortController();
  const params = new URLSearchParams({ ...(args === undefined ? {} : { args: JSON.stringify(args) }), ...(diff ? { diff: 'true' } : {}) }).toString();
  const query = params === '' ? '' : `?${params}`;
  const res = await fetch(`${t.url}/api/fn/${name}/watch${query}`, { signal: controller.signal });
  const events: Array<{ event: string; data: unknown }> = [];
  const waiters = new Set<() => void>();
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    return { status: res.status, body: await res.json(), events, nth: () => Promise.reject(new Error('not a stream')), close: () => undefined };
  }
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
          for (const wake of [...waiters]) wake();
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  const nth = (n: number) =>
    new Promise<{ event: string; data: unknown }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no event #${n} within 3 s; got ${JSON.stringify(events)}`)), 3000);
      const check = (): void => {
        if (events.length <= n) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(events[n]!);
      };
      waiters.add(check);
      check();
    });
  return { status: res.status, events, nth, close: () => controller.abort() };
}

const insert = (title: string, ownerId: string) => t.request('POST', '/api/entities/Todo', { body: { title, done: false, ownerId } });

beforeAll(async () => {
  t = await startTestServer(testManifest);
  const set = await deployFunctions(t, {
    rowsOf: `export default query({ args: { owner: v.string() }, handler: (ctx, a) => ctx.db.query('Todo', { ownerId: a.owner, $order: { title: 'asc' } }) });`,
    titlesOf: `export default query({ args: { owner: v.string() }, handler: async (ctx, a) => (await ctx.db.query('Todo', { ownerId: a.owner, $order: { title: 'asc' } })).map((r) => r.title) });`,
    userName: `export default query({ args: { id: v.string() }, handler: async (ctx, a) => (await ctx.db.get('User', a.id))?.name ?? null });`,
    addTwo: `export default mutation({ args: { owner: v.string() }, handler: async (ctx, a) => {
      await ctx.db.insert('Todo', { title: 'm1', done: false, ownerId: a.owner });
      await ctx.db.insert('Todo', { title: 'm2', done: false, ownerId: a.owner });
    } });`,
    addTwoThenThrow: `export default mutation({ args: { owner: v.string() }, handler: async (ctx, a) => {
      await ctx.db.insert('Todo', { title: 'never', done: false, ownerId: a.owner });
      throw new Error('no');
    } });`,
  });
  expect(set.errors).toEqual([]);
});
afterAll(() => t.close());

describe('watching a query function over SSE', () => {
  it('sends the result, then a new result after each commit that changes it, and nothing when it does not change', async () => {
    await insert('b', 'w1');
    const w = await watch('titlesOf', { owner: 'w1' });
    expect(await w.nth(0)).toEqual({ event: 'result', data: ['b'] });
    await insert('a', 'w1');
    expect(await w.nth(1)).toEqual({ event: 'result', data: ['a', 'b'] });
    // Another owner's row re-runs the query but leaves its result as it was: no event.
    await insert('z', 'someone else');
    // A rolled-back mutation publishes nothing.
    expect((await callFn(t, 'addTwoThenThrow', { owner: 'w1' })).status).toBe(400);
    // A committed mutation's changes are published together: one new result for both rows.
    await callFn(t, 'addTwo', { owner: 'w1' });
    const next = await w.nth(2);
    expect(next.data).toEqual(expect.arrayContaining(['a', 'b', 'm1', 'm2']));
    expect(w.events.map((e) => e.data)).not.toContainEqual(expect.arrayContaining(['never']));
    expect(w.events.slice(0, 2).map((e) => e.data)).toEqual([['b'], ['a', 'b']]);
    w.close();
  });

  it('with diff=true sends the first result, then each new one as a diff that rebuilds it exactly', async () => {
    for (const title of ['p', 'r']) await insert(title, 'w-diff');
    const current = async () => (await callFn(t, 'rowsOf', { owner: 'w-diff' })).text;
    const w = await watch('rowsOf', { owner: 'w-diff' }, true);
    const first = await w.nth(0);
    expect(first.event).toBe('result');
    let held = first.data;
    expect(JSON.stringify(held)).toBe(await current());
    const { id } = (await insert('q', 'w-diff')).json as { id: string };
    const next = await w.nth(1);
    expect(next).toEqual({ event: 'diff', data: { added: [{ index: 1, row: expect.objectContaining({ id, title: 'q' }) }], changed: [], removed: [] } });
    held = applyResultDiff(held, resultDiff.parse(next.data));
    expect(JSON.stringify(held)).toBe(await current());
    await t.request('DELETE', `/api/entities/Todo/${id}`);
    const after = await w.nth(2);
    expect(after).toEqual({ event: 'diff', data: { added: [], changed: [], removed: [id] } });
    held = applyResultDiff(held, resultDiff.parse(after.data));
    expect(JSON.stringify(held)).toBe(await current());
    w.close();
    // A result that is not rows changes as a whole value.
    const titles = await watch('titlesOf', { owner: 'w-diff' }, true);
    expect(await titles.nth(0)).toEqual({ event: 'result', data: ['p', 'r'] });
    await insert('s', 'w-diff');
    expect(await titles.nth(1)).toEqual({ event: 'diff', data: { value: ['p', 'r', 's'] } });
    titles.close();
  });

  it('re-runs on a change to a row it fetched by id', async () => {
    const { id } = (await t.request('POST', '/api/entities/User', { body: { email: 'w@x', name: 'first' } })).json as { id: string };
    const w = await watch('userName', { id });
    expect((await w.nth(0)).data).toBe('first');
    await t.request('PATCH', `/api/entities/User/${id}`, { body: { name: 'second' } });
    expect((await w.nth(1)).data).toBe('second');
    w.close();
  });

  it('ends with SESSION_EXPIRED when the session expires', async () => {
    const short = await startTestServer(testManifest, { adminToken: 'watch-admin', sessionLifetime: 1000 });
    try {
      await deployFunctions(short, { count: `export default query({ handler: async (ctx) => (await ctx.db.query('Todo')).length });` });
      const minted = await short.request('POST', '/api/auth/session', { body: { user_id: 'u' }, headers: { authorization: 'Bearer watch-admin' } });
      const res = await fetch(`${short.url}/api/fn/count/watch`, { headers: { authorization: `Bearer ${(minted.json as { token: string }).token}` } });
      // The stream ends by itself: its whole text has the first result, then the expiry.
      const text = await res.text();
      expect(text).toMatch(/^event: result\ndata: 0\n\n/);
      expect(text).toContain('event: error\ndata: {"code":"SESSION_EXPIRED"');
    } finally {
      await short.close();
    }
  });

  it('a first run that fails is an ordinary error response', async () => {
    expect(await watch('nope')).toMatchObject({ status: 404, body: { error: { code: 'FN_NOT_FOUND' } } });
    expect(await watch('addTwo', { owner: 'x' })).toMatchObject({ status: 400, body: { error: { code: 'FN_TYPE_MISMATCH' } } });
    expect(await watch('titlesOf', { owner: 5 })).toMatchObject({ status: 400, body: { error: { code: 'INVALID_ARGS' } } });
    const bad = await fetch(`${t.url}/api/fn/titlesOf/watch?args=%7B`);
    expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).toEqual([400, 'INVALID_JSON']);
  });
});
