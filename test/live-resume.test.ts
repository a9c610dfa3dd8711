import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';
import { LiveClient } from './helpers/live-client.js';

let t: TestServer;
let wsUrl: string;

async function insert(data: Record<string, unknown>): Promise<{ id: string; seq: number }> {
  const res = await t.request('POST', '/api/entities/Todo', { body: data });
  expect(res.status).toBe(201);
  return res.json as { id: string; seq: number };
}

beforeAll(async () => {
  t = await startTestServer(testManifest);
  wsUrl = t.url.replace('http', 'ws') + '/ws';
});
afterAll(() => t.close());

describe('resume after a reconnect', () => {
  it('replays exactly what was missed from the change log, then continues live with no gap or duplicate', async () => {
    const filter = { ownerId: 'resume', done: false };
    const kept = await insert({ title: 'kept', done: false, ownerId: 'resume' });
    const edited = await insert({ title: 'edited', done: false, ownerId: 'resume' });
    const closed = await insert({ title: 'closed', done: false, ownerId: 'resume' });
    const deleted = await insert({ title: 'deleted', done: false, ownerId: 'resume' });
    const { client } = await LiveClient.connect(wsUrl);
    client.send({ type: 'subscribe', id: 'todos', entity: 'Todo', filter });
    const result = await client.next('result');
    const cursor = result.seq;
    client.close();
    await client.closed;

    // Missed while disconnected.
    await t.request('PATCH', `/api/entities/Todo/${edited.id}`, { body: { title: 'edited 2' } });
    await t.request('PATCH', `/api/entities/Todo/${closed.id}`, { body: { done: true } });
    await t.request('DELETE', `/api/entities/Todo/${deleted.id}`);
    const added = await insert({ title: 'added', done: false, ownerId: 'resume' });
    await insert({ title: 'elsewhere', done: false, ownerId: 'other' });

    const { client: again } = await LiveClient.connect(wsUrl);
    again.send({ type: 'resume', id: 'r1', since: cursor, subscriptions: [{ id: 'todos', entity: 'Todo', filter }] });
    const resumed = await again.next('resumed');
    expect(resumed.id).toBe('todos');
    expect(resumed.added.map((r) => r.id)).toEqual([added.id]);
    expect(resumed.changed).toEqual([expect.objectContaining({ id: edited.id, title: 'edited 2' })]);
    expect(resumed.removed.sort()).toEqual([closed.id, deleted.id].sort());
    const ack = await again.next('ack');
    expect(ack).toEqual({ type: 'ack', id: 'r1', seq: resumed.seq });

    // Applying the delta to what the client held gives the server's current window.
    const rows = new Map(result.rows.map((r) => [r.id, r]));
    for (const id of resumed.removed) rows.delete(id);
    for (const r of [...resumed.added, ...resumed.changed]) rows.set(r.id, r);
    const fresh = await t.request('POST', '/api/query/Todo', { body: filter });
    expect([...rows.values()].sort((a, b) => a.id.localeCompare(b.id))).toEqual(fresh.json);
    expect(rows.has(kept.id)).toBe(true);

    // Live again: the next diff is the next change, after the resumed seq.
    const next = await insert({ title: 'live', done: false, ownerId: 'resume' });
    const diff = await again.next('diff');
    expect(diff).toMatchObject({ query: resumed.query, seq: next.seq, added: [{ id: next.id }] });
    expect(diff.seq).toBeGreaterThan(resumed.seq);
    expect(again.unread()).toEqual([]);
    again.close();
  });

  it('answers with a fresh result when a limited window may have shifted, and with nothing missing when nothing changed', async () => {
    const owner = 'resume-window';
    for (const p of [1, 2, 3]) await insert({ title: `p${p}`, done: false, priority: p, ownerId: owner });
    const windowFilter = { ownerId: owner, $order: { priority: 'asc' }, $limit: 2 };
    const quietFilter = { ownerId: 'nobody-writes-here' };
    const { client } = await LiveClient.connect(wsUrl);
    client.send({ type: 'subscribe', id: 'w', entity: 'Todo', filter: windowFilter });
    const cursor = (await client.next('result')).seq;
    client.close();
    const p0 = await insert({ title: 'p0', done: false, priority: 0, ownerId: owner });

    const { client: again } = await LiveClient.connect(wsUrl);
    again.send({
      type: 'resume',
      id: 'r2',
      since: cursor,
      subscriptions: [
        { id: 'w', entity: 'Todo', filter: windowFilter },
        { id: 'q', entity: 'Todo', filter: quietFilter },
      ],
    });
    const fresh = await again.next('result', (m) => m.id === 'w');
    expect(fresh.rows.map((r) => r.title)).toEqual(['p0', 'p1']);
    expect(fresh.rows[0]!.id).toBe(p0.id);
    expect(await again.next('resumed', (m) => m.id === 'q')).toMatchObject({ added: [], changed: [], removed: [] });
    await again.next('ack');
    again.close();
  });

  it('asks for a re-sync when the cursor was pruned or is ahead of the log', async () => {
    const own = await startTestServer(testManifest);
    try {
      const url = own.url.replace('http', 'ws') + '/ws';
      for (let i = 0; i < 3; i++) await own.request('POST', '/api/entities/Todo', { body: { title: `t${i}`, done: false } });
      await own.server.store.pruneChanges({ maxAgeMs: 3_600_000, maxEntries: 1 });
      const bounds = await own.server.store.changeLogBounds();
      expect(bounds.prunedThrough).toBe(2);
      const { client } = await LiveClient.connect(url);
      const subscriptions = [{ id: 's', entity: 'Todo' }];
      client.send({ type: 'resume', id: 'old', since: 1, subscriptions });
      expect(await client.next('error')).toMatchObject({ id: 'old', code: 'RESYNC_REQUIRED', oldest_seq: 3, head_seq: 3 });
      client.send({ type: 'resume', id: 'ahead', since: 99, subscriptions });
      expect(await client.next('error')).toMatchObject({ id: 'ahead', code: 'RESYNC_REQUIRED' });
      // The failed resumes left no subscription behind: the id is free again.
      client.send({ type: 'resume', id: 'ok', since: 2, subscriptions });
      await client.next('ack', (m) => m.id === 'ok');
      client.send({ type: 'subscribe', id: 'fresh', entity: 'Todo' });
      expect((await client.next('result')).rows).toHaveLength(3);
      client.close();
    } finally {
      await own.close();
    }
  });
});
