import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MastClient, MastClientError } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { deployFunctions } from '../../../test/helpers/functions-app.js';
import { clientOf, startServer, tokenFor, until } from './harness.js';

let t: TestServer;
let client: MastClient;
const errors: MastClientError[] = [];

beforeAll(async () => {
  t = await startServer();
  const set = await deployFunctions(t, {
    addTodo: `export default mutation({ args: { id: v.string(), title: v.string() }, handler: async (ctx, a) => {
      await ctx.db.insert('Todo', { id: a.id, title: a.title, done: false, ownerId: ctx.auth.userId });
      return { id: a.id };
    } });`,
    refuse: `export default mutation({ args: { id: v.string() }, handler: (ctx) => { throw ctx.error('QUOTA_EXCEEDED', 'Too many todos'); } });`,
    count: `export default action({ args: { to: v.int() }, handler: async (ctx, a) => {
      for (let i = 1; i <= a.to; i++) ctx.stream.write({ i });
      return 'done';
    } });`,
    endless: `export default action({ handler: async (ctx) => {
      ctx.stream.write('started');
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      return 'stopped';
    } });`,
    titles: `export default query({ handler: async (ctx) => (await ctx.db.query('Todo', { $order: { title: 'asc' } })).map((r) => ({ id: r.id, title: r.title })) });`,
  });
  expect(set.errors).toEqual([]);
  client = clientOf(t, { auth: await tokenFor(t, 'ann'), onError: (e) => errors.push(e) });
  await client.connected();
});
afterAll(async () => {
  await client.close();
  await t.close();
});

describe('functions over the socket', () => {
  it("calls a mutation with an optimistic change that shows at once and gives way to the server's row", async () => {
    const q = client.query('Todo', {});
    await q.ready();
    const call = client.mutation(
      'addTodo',
      { id: 'm1', title: 'from a mutation' },
      { optimistic: (tx) => tx.insert('Todo', { id: 'm1', title: 'from a mutation', done: false, ownerId: 'ann' }) },
    );
    await new Promise((r) => setTimeout(r, 0));
    expect(q.rows.map((r) => r.id)).toEqual(['m1']);
    expect(await call).toEqual({ id: 'm1' });
    await client.sync();
    expect(client.optimisticWrites).toBe(0);
    expect(q.rows).toEqual([expect.objectContaining({ id: 'm1', title: 'from a mutation', done: false })]);
    q.close();
  });

  it("rolls back a refused mutation and gives the author's code to the caller and onError", async () => {
    const q = client.query('Todo', {});
    await q.ready();
    const before = q.rows.length;
    const call = client.mutation('refuse', { id: 'x' }, { optimistic: (tx) => tx.insert('Todo', { id: 'x', title: 'never', done: false, ownerId: 'ann' }) });
    await new Promise((r) => setTimeout(r, 0));
    expect(q.rows.length).toBe(before + 1);
    await expect(call).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED', message: 'Too many todos' });
    expect(q.rows.length).toBe(before);
    expect(errors.at(-1)?.code).toBe('QUOTA_EXCEEDED');
    q.close();
  });

  it("streams an action's chunks in order before its result", async () => {
    const chunks: unknown[] = [];
    const value = await client.action('count', { to: 3 }, { onChunk: (c) => chunks.push(c) });
    expect(chunks).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
    expect(value).toBe('done');
  });

  it('cancels a running action', async () => {
    const abort = new AbortController();
    const call = client.action('endless', {}, { signal: abort.signal, onChunk: () => abort.abort() });
    await expect(call).rejects.toMatchObject({ code: 'FN_CANCELLED' });
  });

  it('keeps a query function live with fn-watch', async () => {
    const w = client.watch<Array<{ id: string; title: string }>>('titles');
    await until(() => w.state.loading === false, 'the first result');
    const before = w.value!.length;
    await client.insert('Todo', { title: 'aaa first', done: false, ownerId: 'ann' });
    await until(() => w.value?.length === before + 1, 'the watched result to change');
    expect(w.value![0]!.title).toBe('aaa first');
    w.close();
  });

  it('refuses an unknown function with its code', async () => {
    await expect(client.action('nope')).rejects.toMatchObject({ code: 'FN_NOT_FOUND' });
  });
});
