import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testManifest, type TestServer } from './helpers/test-server.js';

// batch and sync push apply each operation in its own transaction. Whatever one operation meets,
// an unexpected failure included, the answer reports every operation's outcome: a 500 after the
// operations before it committed would leave the caller unable to tell what was applied.

let t: TestServer;

/**
 * Runs SQL on the server's database file from a second connection. The server may be inside a
 * write transaction that awaits, so a blocking busy wait here would stall it: retry instead.
 */
async function execOnFile(sql: string): Promise<void> {
  const db = new Database(join(t.dir, 'test.db'), { timeout: 0 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        db.exec(sql);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt > 200) throw err;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  t = await startTestServer(testManifest);
  // A real database fault on one row: SQLite itself refuses any update that sets this title,
  // an error no validation foresees (the store reports it as INTERNAL).
  await execOnFile(`CREATE TRIGGER poisoned BEFORE UPDATE ON "Todo" WHEN NEW.title = 'poison' BEGIN SELECT RAISE(ABORT, 'secret detail of the fault'); END`);
});
afterAll(() => t.close());

async function seqs(): Promise<Array<{ row_id: string; kind: string }>> {
  const res = await t.request('GET', '/api/sync/pull?since=0&limit=1000');
  return (res.json as { changes: Array<{ row_id: string; kind: string }> }).changes.map(({ row_id, kind }) => ({ row_id, kind }));
}

describe('an operation that fails unexpectedly', () => {
  it('is one failed result of a batch; the operations before and after it are applied and reported', async () => {
    await t.request('POST', '/api/entities/Todo', { body: { id: 'b0', title: 'x', done: false } });
    const res = await t.request('POST', '/api/batch', {
      body: {
        operations: [
          { op: 'insert', entity: 'Todo', data: { id: 'b1', title: 'one', done: false } },
          { op: 'update', entity: 'Todo', id: 'b0', data: { title: 'poison' } },
          { op: 'insert', entity: 'Todo', data: { id: 'b2', title: 'two', done: false } },
        ],
      },
    });
    expect(res.status).toBe(200);
    const body = res.json as { succeeded: number; failed: number; results: Array<Record<string, unknown>> };
    expect(body).toMatchObject({ succeeded: 2, failed: 1 });
    expect(body.results[0]).toMatchObject({ op: 'insert', id: 'b1', ok: true });
    expect(body.results[1]).toMatchObject({ op: 'update', id: 'b0', ok: false, code: 'INTERNAL' });
    expect(body.results[2]).toMatchObject({ op: 'insert', id: 'b2', ok: true });
    expect(res.text).not.toContain('secret detail');
    expect(((await t.request('GET', '/api/entities/Todo/b0')).json as { title: string }).title).toBe('x');
    expect((await seqs()).filter((c) => c.row_id.startsWith('b'))).toEqual([
      { row_id: 'b0', kind: 'insert' },
      { row_id: 'b1', kind: 'insert' },
      { row_id: 'b2', kind: 'insert' },
    ]);
  });

  it('is one failed result of a sync push, not recorded as done, so a retry after the fault is applied', async () => {
    await t.request('POST', '/api/entities/Todo', { body: { id: 's0', title: 'x', done: false } });
    const poisoned = { entity: 'Todo', row_id: 's0', kind: 'update', data: { title: 'poison' }, op_id: 'op-s0' };
    const res = await t.request('POST', '/api/sync/push', {
      body: {
        changes: [
          { entity: 'Todo', row_id: 's1', kind: 'insert', data: { title: 'one', done: false }, op_id: 'op-s1' },
          poisoned,
          { entity: 'Todo', row_id: 's2', kind: 'insert', data: { title: 'two', done: false }, op_id: 'op-s2' },
        ],
      },
    });
    expect(res.status).toBe(200);
    const body = res.json as { applied: number; errors: string[]; results: Array<Record<string, unknown>>; cursor: { last_seq: number } };
    expect(body.applied).toBe(2);
    expect(body.results.map((r) => r['ok'])).toEqual([true, false, true]);
    expect(body.results[1]).toMatchObject({ op_id: 'op-s0', row_id: 's0', error: { code: 'INTERNAL' } });
    expect(body.errors).toHaveLength(1);
    expect(res.text).not.toContain('secret detail');
    expect(body.cursor.last_seq).toBe(body.results[2]!['seq']);

    await execOnFile('DROP TRIGGER poisoned');
    const retry = (await t.request('POST', '/api/sync/push', { body: { changes: [poisoned] } })).json as { applied: number; deduped: number };
    expect(retry).toMatchObject({ applied: 1, deduped: 0 });
    expect(((await t.request('GET', '/api/entities/Todo/s0')).json as { title: string }).title).toBe('poison');
  });
});
