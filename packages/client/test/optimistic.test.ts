import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MastClient, MastClientError, QueuedWrite } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { clientOf, serverRows, startServer, tokenFor, until } from './harness.js';

let t: TestServer;
let ann: string;
let client: MastClient;
const refused: Array<{ error: MastClientError; write: QueuedWrite | null }> = [];

beforeAll(async () => {
  t = await startServer();
  ann = await tokenFor(t, 'ann');
  client = clientOf(t, { auth: ann, onError: (error, write) => refused.push({ error, write }) });
  await client.connected();
});
afterAll(async () => {
  await client.close();
  await t.close();
});

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('optimistic writes', () => {
  it("shows an insert at once, in the query's order, then keeps the server's row without a flicker or a duplicate", async () => {
    const q = client.query('Todo', { done: false, $order: { rank: 'asc' } });
    await q.ready();
    await client.insert('Todo', { title: 'one', done: false, rank: 1, ownerId: 'ann' });
    await client.insert('Todo', { title: 'three', done: false, rank: 3, ownerId: 'ann' });
    await until(() => q.rows.length === 2, 'two rows');
    const seen: string[][] = [];
    q.subscribe(() => seen.push(q.rows.map((r) => String(r.title))));
    const pending = client.insert('Todo', { title: 'two', done: false, rank: 2, ownerId: 'ann' });
    await tick();
    expect(q.rows.map((r) => r.title)).toEqual(['one', 'two', 'three']);
    await pending;
    await client.sync();
    expect(q.rows.map((r) => r.title)).toEqual(['one', 'two', 'three']);
    // Every state the query went through had the row once and in place.
    for (const titles of seen) expect(titles).toEqual(['one', 'two', 'three']);
    q.close();
  });

  it('moves a row out of a query at once when an update stops it matching the filter', async () => {
    const open = client.query('Todo', { done: false });
    const done = client.query('Todo', { done: true });
    await Promise.all([open.ready(), done.ready()]);
    const target = open.rows.find((r) => r.title === 'one')!;
    const pending = client.update('Todo', target.id, { done: true });
    await tick();
    expect(open.rows.map((r) => r.id)).not.toContain(target.id);
    expect(done.rows.map((r) => r.id)).toContain(target.id);
    await pending;
    await client.sync();
    expect(open.rows.map((r) => r.id)).not.toContain(target.id);
    expect(done.rows.find((r) => r.id === target.id)).toMatchObject({ done: true, title: 'one' });
    open.close();
    done.close();
  });

  it('rebases a pending write on a server change that arrives meanwhile', async () => {
    // A slow network: the client's writes wait until the test lets them through.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = clientOf(t, {
      auth: ann,
      fetch: async (url, init) => {
        if (init?.method === 'PATCH') await gate;
        return fetch(url, init as RequestInit);
      },
    });
    await slow.connected();
    const q = slow.query('Todo', { title: 'three' });
    await q.ready();
    const row = q.rows[0]!;
    const mine = slow.update('Todo', row.id, { rank: 30 });
    await tick();
    expect(q.rows[0]).toMatchObject({ rank: 30, done: false });
    // Another client changes another field while the write is pending: shown under the pending write.
    await client.update('Todo', row.id, { done: true }, { optimistic: false });
    await until(() => q.rows[0]?.done === true, 'the server change under the pending write');
    expect(q.rows[0]).toMatchObject({ rank: 30, done: true });
    release();
    await mine;
    await slow.sync();
    expect(slow.optimisticWrites).toBe(0);
    expect(q.rows[0]).toMatchObject({ rank: 30, done: true });
    await slow.close();
  });

  it('rolls back a write the policy refuses, rejects its caller and calls onError', async () => {
    const q = client.query('Todo', { $order: { rank: 'asc' } });
    await q.ready();
    const before = q.rows.map((r) => r.id);
    let shown = false;
    const off = q.subscribe(() => {
      if (q.rows.some((r) => r.title === 'not mine')) shown = true;
    });
    const write = client.insert('Todo', { title: 'not mine', done: false, rank: 0, ownerId: 'bob' });
    await expect(write).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    off();
    expect(shown).toBe(true);
    expect(q.rows.map((r) => r.id)).toEqual(before);
    expect(refused.at(-1)).toMatchObject({ error: { code: 'POLICY_DENIED' }, write: { kind: 'insert', entity: 'Todo' } });
    expect((await serverRows(t, 'Todo')).some((r) => r.title === 'not mine')).toBe(false);
    q.close();
  });

  it('rolls back a delete the server refuses', async () => {
    const q = client.query('Todo', {});
    await q.ready();
    const count = q.rows.length;
    const write = client.delete('Todo', 'no-such-row');
    await expect(write).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(q.rows.length).toBe(count);
    q.close();
  });

  it("drops the optimistic copy of a write that changed none of the client's windows (barrier)", async () => {
    const q = client.query('Todo', { $order: { rank: 'asc' }, $limit: 1 });
    await q.ready();
    const first = q.rows[0]!;
    // Sorts after the cut window: the server sends no diff, the client must still settle it.
    const res = await client.insert('Todo', { title: 'far away', done: false, rank: 999, ownerId: 'ann' });
    await client.sync();
    expect(q.rows).toEqual([first]);
    expect(res.seq).toBeGreaterThan(0);
    expect(client.optimisticWrites).toBe(0);
    q.close();
  });
});
