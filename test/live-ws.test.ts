import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@mast/protocol';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { LiveClient } from './helpers/live-client.js';

let t: TestServer;
let wsUrl: string;

async function insert(data: Record<string, unknown>): Promise<{ id: string; seq: number }> {
  const res = await t.request('POST', '/api/entities/Todo', { body: data });
  expect(res.status).toBe(201);
  return res.json as { id: string; seq: number };
}

async function patch(id: string, data: Record<string, unknown>): Promise<number> {
  const res = await t.request('PATCH', `/api/entities/Todo/${id}`, { body: data });
  expect(res.status).toBe(200);
  return (await t.server.store.changeLogBounds()).head;
}

async function remove(id: string): Promise<number> {
  const res = await t.request('DELETE', `/api/entities/Todo/${id}`);
  expect(res.status).toBe(200);
  return (await t.server.store.changeLogBounds()).head;
}

beforeAll(async () => {
  t = await startTestServer(testManifest);
  wsUrl = t.url.replace('http', 'ws') + '/ws';
});
afterAll(() => t.close());

describe('live queries over WebSocket', () => {
  it('says hello with the protocol version and the change-log head', async () => {
    await insert({ title: 'before', done: true, slug: 'hello-1' });
    const head = (await t.server.store.changeLogBounds()).head;
    const { client, hello } = await LiveClient.connect(wsUrl);
    expect(hello).toMatchObject({ type: 'hello', protocol: PROTOCOL_VERSION, seq: head });
    expect(hello.connectionId).toMatch(/^[0-9a-f-]{36}$/);
    client.close();
  });

  it('sends the initial result, then diffs for insert, update and delete with their seqs', async () => {
    const { client } = await LiveClient.connect(wsUrl);
    const a = await insert({ title: 'a', done: false, ownerId: 'crud' });
    client.send({ type: 'subscribe', id: 's1', entity: 'Todo', filter: { ownerId: 'crud' } });
    const result = await client.next('result');
    expect(result).toMatchObject({ id: 's1', complete: true, rows: [{ id: a.id, title: 'a' }] });
    expect(result.seq).toBeGreaterThanOrEqual(a.seq);

    const b = await insert({ title: 'b', done: false, ownerId: 'crud' });
    const added = await client.next('diff');
    expect(added).toEqual({ type: 'diff', query: result.query, seq: b.seq, added: [expect.objectContaining({ id: b.id, title: 'b' })], changed: [], removed: [] });

    const updatedSeq = await patch(a.id, { title: 'a2' });
    expect(await client.next('diff')).toMatchObject({ seq: updatedSeq, added: [], changed: [{ id: a.id, title: 'a2' }], removed: [] });

    const deletedSeq = await remove(b.id);
    expect(await client.next('diff')).toMatchObject({ seq: deletedSeq, added: [], changed: [], removed: [b.id] });
    client.close();
  });

  it('sends only rows that match the filter; a row that stops matching is removed', async () => {
    const { client } = await LiveClient.connect(wsUrl);
    client.send({ type: 'subscribe', id: 'open', entity: 'Todo', filter: { ownerId: 'filt', done: false } });
    await client.next('result');
    await insert({ title: 'closed', done: true, ownerId: 'filt' });
    await insert({ title: 'other owner', done: false, ownerId: 'someone-else' });
    const open = await insert({ title: 'open', done: false, ownerId: 'filt' });
    // Diffs arrive in commit order, so the non-matching rows would have come first.
    const diff = await client.next('diff');
    expect(diff).toMatchObject({ seq: open.seq, added: [{ id: open.id }], changed: [], removed: [] });
    const doneSeq = await patch(open.id, { done: true });
    expect(await client.next('diff')).toMatchObject({ seq: doneSeq, added: [], changed: [], removed: [open.id] });
    expect(client.unread()).toEqual([]);
    client.close();
  });

  it('keeps an ordered, limited window right as rows enter and leave it', async () => {
    const owner = 'window';
    const p1 = await insert({ title: 'p1', done: false, priority: 1, ownerId: owner });
    const p2 = await insert({ title: 'p2', done: false, priority: 2, ownerId: owner });
    const p3 = await insert({ title: 'p3', done: false, priority: 3, ownerId: owner });
    const { client } = await LiveClient.connect(wsUrl);
    client.send({ type: 'subscribe', id: 'top2', entity: 'Todo', filter: { ownerId: owner, $order: { priority: 'asc' }, $limit: 2 } });
    const result = await client.next('result');
    expect(result.rows.map((r) => r.id)).toEqual([p1.id, p2.id]);
    expect(result.complete).toBe(false);

    // A row entering a full window pushes the last one out.
    const p0 = await insert({ title: 'p0', done: false, priority: 0, ownerId: owner });
    expect(await client.next('diff')).toMatchObject({ added: [{ id: p0.id }], removed: [p2.id] });
    // A row leaving a full window is replaced from the store.
    await remove(p0.id);
    expect(await client.next('diff')).toMatchObject({ added: [{ id: p2.id }], removed: [p0.id] });
    // A row moving past the window's end leaves it; the next row comes in.
    await patch(p1.id, { priority: 10 });
    expect(await client.next('diff')).toMatchObject({ added: [{ id: p3.id }], changed: [], removed: [p1.id] });
    // A row moving inside the window stays, with its new values.
    await patch(p3.id, { priority: 1 });
    expect(await client.next('diff')).toMatchObject({ added: [], changed: [{ id: p3.id, priority: 1 }], removed: [] });
    // Re-subscribing gives the same window the diffs built.
    client.send({ type: 'subscribe', id: 'again', entity: 'Todo', filter: { ownerId: owner, $order: { priority: 'desc' }, $limit: 2 } });
    expect((await client.next('result', (r) => r.id === 'again')).rows.map((r) => r.id)).toEqual([p1.id, p2.id]);
    client.close();
  });

  it('shares one evaluation between identical subscriptions: the same bytes reach every socket', async () => {
    const { client: one } = await LiveClient.connect(wsUrl);
    const { client: two } = await LiveClient.connect(wsUrl);
    const before = t.server.live.queryCount;
    one.send({ type: 'subscribe', id: 'x', entity: 'Todo', filter: { ownerId: 'shared' } });
    two.send({ type: 'subscribe', id: 'y', entity: 'Todo', filter: { ownerId: 'shared' } });
    const [r1, r2] = await Promise.all([one.next('result'), two.next('result')]);
    expect(r1.query).toBe(r2.query);
    expect(t.server.live.queryCount).toBe(before + 1);
    await insert({ title: 'shared', done: false, ownerId: 'shared' });
    const [d1, d2] = await Promise.all([one.nextRaw('diff'), two.nextRaw('diff')]);
    expect(d1.raw).toBe(d2.raw);
    one.send({ type: 'unsubscribe', id: 'x' });
    expect(await one.next('ack')).toEqual({ type: 'ack', id: 'x' });
    two.close();
    await two.closed;
    one.close();
    await one.closed;
    await expect.poll(() => t.server.live.queryCount).toBe(before);
  });

  it('echoes the bearer subprotocol and accepts the admin token in either place', async () => {
    const admin = await startTestServer(testManifest, { adminToken: 'sekrit-token' });
    try {
      const url = admin.url.replace('http', 'ws') + '/ws';
      const { client } = await LiveClient.connect(url, { protocols: ['bearer.sekrit-token'] });
      expect(client.ws.protocol).toBe('bearer.sekrit-token');
      client.close();
      const { client: viaHeader } = await LiveClient.connect(url, { token: 'sekrit-token' });
      viaHeader.close();
      const bad = await LiveClient.open(url, { token: 'wrong' });
      expect(await bad.closed).toMatchObject({ code: 4001 });
      const badProtocol = await LiveClient.open(url, { protocols: ['bearer.mast_0000'] });
      expect(await badProtocol.closed).toMatchObject({ code: 4001 });
    } finally {
      await admin.close();
    }
  });
});
