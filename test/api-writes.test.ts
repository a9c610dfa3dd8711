import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

let t: TestServer;
beforeEach(async () => {
  t = await startTestServer(testManifest, { bodyLimit: 64 * 1024, batchMaxOps: 50 });
});
afterEach(async () => {
  await t.close();
});

async function pullAll(): Promise<any[]> {
  const res = await t.request('GET', '/api/sync/pull?since=0&limit=1000');
  expect(res.status).toBe(200);
  return (res.json as any).changes;
}

describe('transact', () => {
  it('commits every operation, each with its change-log entry', async () => {
    const res = await t.request('POST', '/api/transact', {
      body: [
        { op: 'insert', entity: 'User', data: { id: 'u1', email: 'a@x.io' } },
        { op: 'insert', entity: 'Todo', data: { id: 't1', title: 'a', done: false, ownerId: 'u1' } },
        { op: 'update', entity: 'Todo', id: 't1', data: { done: true } },
      ],
    });
    expect(res.status, res.text).toBe(200);
    expect((res.json as any).committed).toBe(true);
    const changes = await pullAll();
    expect(changes.map((c) => [c.seq, c.kind, c.row_id])).toEqual([
      [1, 'insert', 'u1'],
      [2, 'insert', 't1'],
      [3, 'update', 't1'],
    ]);
    expect(changes[2].data).toMatchObject({ id: 't1', done: true, ownerId: 'u1' });
  });

  it('rolls everything back when one operation fails, and logs nothing', async () => {
    await t.request('POST', '/api/entities/User', { body: { id: 'u1', email: 'taken@x.io' } });
    const res = await t.request('POST', '/api/transact', {
      body: {
        operations: [
          { op: 'insert', entity: 'Todo', data: { id: 't1', title: 'a', done: false } },
          { op: 'update', entity: 'User', id: 'u1', data: { name: 'changed' } },
          { op: 'insert', entity: 'User', data: { email: 'taken@x.io' } },
        ],
      },
    });
    expect(res.status).toBe(409);
    expect(res.json).toMatchObject({ committed: false, error: { code: 'UNIQUE_VIOLATION', index: 2 } });
    expect((await t.request('GET', '/api/entities/Todo/t1')).status).toBe(404);
    expect(((await t.request('GET', '/api/entities/User/u1')).json as any).name).toBeNull();
    expect((await pullAll()).map((c) => c.seq)).toEqual([1]);
  });

  it('rolls back on an unknown op and on an update of a missing row', async () => {
    for (const bad of [
      { op: 'upsert', entity: 'Todo' },
      { op: 'update', entity: 'Todo', id: 'missing', data: { done: true } },
    ]) {
      const res = await t.request('POST', '/api/transact', { body: [{ op: 'insert', entity: 'Todo', data: { title: 'x', done: false } }, bad] });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect((res.json as any).committed).toBe(false);
    }
    expect(((await t.request('GET', '/api/entities/Todo')).json as any).count).toBe(0);
    expect(await pullAll()).toEqual([]);
  });

  it('refuses more operations than the limit and bodies that are not lists', async () => {
    const many = Array.from({ length: 51 }, () => ({ op: 'insert', entity: 'Todo', data: { title: 'x', done: false } }));
    expect((await t.request('POST', '/api/transact', { body: many })).json).toMatchObject({ error: { code: 'LIMIT_TOO_LARGE' } });
    expect((await t.request('POST', '/api/transact', { body: { nope: 1 } })).json).toMatchObject({ error: { code: 'MISSING_OPERATIONS' } });
  });
});

describe('batch', () => {
  it('runs operations independently and reports each', async () => {
    const res = await t.request('POST', '/api/batch', {
      body: {
        operations: [
          { op: 'insert', entity: 'Todo', data: { id: 'a', title: 'a', done: false } },
          { op: 'insert', entity: 'Todo', data: { title: 'missing done' } },
          { op: 'delete', entity: 'Todo', id: 'a' },
          { op: 'frobnicate', entity: 'Todo' },
        ],
      },
    });
    expect(res.status).toBe(200);
    const body = res.json as any;
    expect(body.succeeded).toBe(2);
    expect(body.failed).toBe(2);
    expect(body.results[1]).toMatchObject({ op: 'insert', ok: false, code: 'MISSING_FIELD' });
    expect(body.results[3]).toMatchObject({ ok: false, code: 'INVALID_OPERATION' });
    expect((await pullAll()).map((c) => c.kind)).toEqual(['insert', 'delete']);
  });
});

describe('sync', () => {
  it('pull pages through the log in order and echoes the cursor when nothing is new', async () => {
    for (let i = 0; i < 5; i++) await t.request('POST', '/api/entities/Todo', { body: { id: `t${i}`, title: `n${i}`, done: false } });
    await t.request('DELETE', '/api/entities/Todo/t0');
    const first = (await t.request('GET', '/api/sync/pull?since=0&limit=4')).json as any;
    expect(first.changes.map((c: any) => c.seq)).toEqual([1, 2, 3, 4]);
    expect(first.has_more).toBe(true);
    expect(first.cursor.last_seq).toBe(4);
    expect(first.changes[0].timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const second = (await t.request('GET', `/api/sync/pull?since=${first.cursor.last_seq}`)).json as any;
    expect(second.changes.map((c: any) => [c.seq, c.kind])).toEqual([
      [5, 'insert'],
      [6, 'delete'],
    ]);
    expect(second.changes[1]).not.toHaveProperty('data');
    expect(second.has_more).toBe(false);
    const none = (await t.request('GET', '/api/sync/pull?since=6')).json as any;
    expect(none).toEqual({ changes: [], cursor: { last_seq: 6 }, has_more: false });
  });

  it('answers 410 for a cursor ahead of the head and for one older than retention', async () => {
    const ahead = await t.request('GET', '/api/sync/pull?since=99');
    expect(ahead.status).toBe(410);
    expect(ahead.json).toMatchObject({ error: { code: 'RESYNC_REQUIRED' } });
    for (let i = 0; i < 10; i++) await t.request('POST', '/api/entities/Todo', { body: { title: `n${i}`, done: false } });
    await t.server.store.pruneChanges({ maxAgeMs: 60_000, maxEntries: 4 });
    const old = await t.request('GET', '/api/sync/pull?since=2');
    expect(old.status).toBe(410);
    expect(old.json).toMatchObject({ error: { code: 'RESYNC_REQUIRED', oldest_seq: 7 } });
    const fromZero = await t.request('GET', '/api/sync/pull?since=0');
    expect(fromZero.status).toBe(410);
    const fine = (await t.request('GET', '/api/sync/pull?since=6')).json as any;
    expect(fine.changes.map((c: any) => c.seq)).toEqual([7, 8, 9, 10]);
    expect((await t.request('GET', '/api/sync/pull?since=-1')).json).toMatchObject({ error: { code: 'INVALID_QUERY' } });
  });

  it('push keeps client ids, applies in order and reports failures per change', async () => {
    const res = await t.request('POST', '/api/sync/push', {
      body: {
        changes: [
          { entity: 'Todo', row_id: 'offline-1', kind: 'insert', data: { title: 'made offline', done: false }, op_id: 'op-1' },
          { entity: 'Todo', row_id: 'offline-1', kind: 'update', data: { done: true }, op_id: 'op-2' },
          { entity: 'Todo', row_id: 'offline-2', kind: 'insert', data: { title: 42, done: false }, op_id: 'op-3' },
          { entity: 'Nope', row_id: 'x', kind: 'delete', op_id: 'op-4' },
        ],
      },
    });
    expect(res.status, res.text).toBe(200);
    const body = res.json as any;
    expect(body.applied).toBe(2);
    expect(body.errors).toHaveLength(2);
    expect(body.results.map((r: any) => r.ok)).toEqual([true, true, false, false]);
    expect(body.results[2].error.code).toBe('INVALID_FIELD_TYPE');
    expect(body.cursor.last_seq).toBe(2);
    expect((await t.request('GET', '/api/entities/Todo/offline-1')).json).toMatchObject({ id: 'offline-1', done: true });
  });

  it('a replayed op returns the first result and writes nothing', async () => {
    const change = { entity: 'Todo', row_id: 'r1', kind: 'insert', data: { title: 'once', done: false }, op_id: 'op-once' };
    const first = (await t.request('POST', '/api/sync/push', { body: { changes: [change] } })).json as any;
    expect(first.applied).toBe(1);
    const again = (await t.request('POST', '/api/sync/push', { body: { changes: [change] } })).json as any;
    expect(again.applied).toBe(0);
    expect(again.deduped).toBe(1);
    expect(again.results[0]).toMatchObject({ ok: true, deduped: true, seq: first.results[0].seq });
    expect((await pullAll()).length).toBe(1);
    const reused = (await t.request('POST', '/api/sync/push', { body: { changes: [{ ...change, data: { title: 'other', done: false } }] } })).json as any;
    expect(reused.results[0].error.code).toBe('OP_ID_REUSED');
  });

  it('refuses malformed push bodies without writing', async () => {
    for (const body of [{}, { changes: 'x' }, { changes: [{ entity: 'Todo', kind: 'insert' }] }, { changes: [{ entity: 'Todo', row_id: 'a', kind: 'INSERT' }] }]) {
      const res = await t.request('POST', '/api/sync/push', { body });
      expect(res.status).toBe(400);
    }
    expect(await pullAll()).toEqual([]);
  });
});

describe('limits', () => {
  it('answers 413 for a body over the limit and keeps serving', async () => {
    const big = { title: 'x'.repeat(70 * 1024), done: false };
    const res = await t.request('POST', '/api/entities/Todo', { body: big });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect((await t.request('GET', '/health')).status).toBe(200);
    expect(((await t.request('GET', '/api/entities/Todo')).json as any).count).toBe(0);
  });

  it('serialises concurrent writes without losing any', async () => {
    await Promise.all(Array.from({ length: 100 }, (_, i) => t.request('POST', '/api/entities/Todo', { body: { id: `c${i}`, title: `c${i}`, done: i % 2 === 0 } })));
    const changes = await pullAll();
    expect(changes.map((c) => c.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(new Set(changes.map((c) => c.row_id)).size).toBe(100);
  });
});

describe('idempotent REST writes', () => {
  it('a retried insert with the same Idempotency-Key returns the first result and writes once', async () => {
    const headers = { 'idempotency-key': 'insert-once' };
    const first = await t.request('POST', '/api/entities/Todo', { body: { title: 'once', done: false }, headers });
    const again = await t.request('POST', '/api/entities/Todo', { body: { title: 'once', done: false }, headers });
    expect(first.status).toBe(201);
    expect(again.json).toEqual(first.json);
    expect(((await t.request('GET', '/api/entities/Todo')).json as any).count).toBe(1);
    const reused = await t.request('POST', '/api/entities/Todo', { body: { title: 'different', done: false }, headers });
    expect(reused.status).toBe(409);
    expect(reused.json).toMatchObject({ error: { code: 'OP_ID_REUSED' } });
  });

  it('a retried transact with the same op_id commits once', async () => {
    const body = { op_id: 'tx-1', operations: [{ op: 'insert', entity: 'Todo', data: { title: 'a', done: false } }] };
    const first = (await t.request('POST', '/api/transact', { body })).json as any;
    const again = (await t.request('POST', '/api/transact', { body })).json as any;
    expect(again).toEqual(first);
    expect(await pullAll()).toHaveLength(1);
    expect((await t.request('POST', '/api/transact', { body: { ...body, op_id: 7 } })).json).toMatchObject({ error: { code: 'INVALID_DATA' } });
  });
});
