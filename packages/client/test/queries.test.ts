import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MastClient } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { clientOf, startServer, tokenFor, until } from './harness.js';

let t: TestServer;
let ann: string;
let client: MastClient;

beforeAll(async () => {
  t = await startServer();
  ann = await tokenFor(t, 'ann');
  client = clientOf(t, { auth: ann });
  await client.connected();
  for (let i = 1; i <= 5; i++) await client.insert('Todo', { title: `t${i}`, done: i % 2 === 0, rank: i, ownerId: 'ann' });
  await client.flush();
});
afterAll(async () => {
  await client.close();
  await t.close();
});

describe('live queries over one normalized cache', () => {
  it('stores a row once for every query that holds it, and a change reaches them all', async () => {
    const all = client.query('Todo', { $order: { rank: 'asc' } });
    const open = client.query('Todo', { done: false, $order: { rank: 'asc' } });
    await Promise.all([all.ready(), open.ready()]);
    await until(() => all.rows.length === 5 && open.rows.length === 3, 'both windows');
    const t1 = all.rows.find((r) => r.title === 't1');
    expect(open.rows.find((r) => r.title === 't1')).toBe(t1); // one object, shared
    expect(client.cachedRowCount).toBe(5);

    // Another client (same user) changes t1: both queries show it.
    const other = clientOf(t, { auth: ann });
    await other.update('Todo', t1!.id, { title: 't1 changed' });
    await until(() => all.rows[0]?.title === 't1 changed' && open.rows[0]?.title === 't1 changed', 'the change in both');
    expect(all.rows[0]).toBe(open.rows[0]);
    await other.close();
    all.close();
    open.close();
    await until(() => client.cachedRowCount === 0, 'rows forgotten once no query holds them');
  });

  it('shares one handle between identical queries', async () => {
    const a = client.query('Todo', { done: true });
    const b = client.query('Todo', { done: true });
    expect(a).toBe(b);
    a.close();
    await b.ready();
    expect(b.rows.length).toBe(2);
    b.close();
  });

  it('grows a $order + $limit window with loadMore', async () => {
    const page = client.query('Todo', { $order: { rank: 'desc' }, $limit: 2 });
    await page.ready();
    expect(page.rows.map((r) => r.rank)).toEqual([5, 4]);
    expect(page.state.complete).toBe(false);
    await page.loadMore();
    expect(page.rows.map((r) => r.rank)).toEqual([5, 4, 3, 2]);
    await page.loadMore();
    expect(page.rows.map((r) => r.rank)).toEqual([5, 4, 3, 2, 1]);
    expect(page.state.complete).toBe(true);
    page.close();
  });

  it('reports a query the server refuses as its error, with the code', async () => {
    const bad = client.query('Todo', { colour: 'red' });
    const state = await bad.ready();
    expect(state.error?.code).toBe('INVALID_COLUMN');
    expect(state.rows).toEqual([]);
    bad.close();
    const missing = client.query('Nope');
    expect((await missing.ready()).error?.code).toBe('ENTITY_NOT_FOUND');
    missing.close();
  });

  it('gives a stable state object between changes (for useSyncExternalStore)', async () => {
    const q = client.query('Todo', { $order: { rank: 'asc' } });
    await q.ready();
    const s1 = q.state;
    await client.sync();
    expect(q.state).toBe(s1);
    q.close();
  });
});
