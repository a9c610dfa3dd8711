import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileManifest } from '@mast/schema';
import { ADMIN, MastServer, loadConfig } from '@mast/server';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testManifest } from './helpers/test-server.js';
import { LiveClient } from './helpers/live-client.js';

let server: MastServer;
let dir: string;
let wsUrl: string;
let alice: string;
let bob: string;

/** Todo rows are visible to their owner and to admins only. */
const ownerOnly = {
  canRead: (auth: { userId: string | null; isAdmin: boolean }, entity: string, row: Record<string, unknown>) =>
    entity !== 'Todo' || auth.isAdmin || (auth.userId !== null && row.ownerId === auth.userId),
  scopeOf: (auth: { userId: string | null }) => `user:${auth.userId ?? ''}`,
  // The same rule as a store filter, so windows are read with one query.
  readFilter: (auth: { userId: string | null; isAdmin: boolean }, entity: string) =>
    entity !== 'Todo' || auth.isAdmin ? (true as const) : { kind: 'compare' as const, field: 'ownerId', op: 'eq' as const, value: auth.userId },
};

async function insert(data: Record<string, unknown>): Promise<{ id: string; seq: number }> {
  const [result] = (await server.writes.apply([{ op: 'insert', entity: 'Todo', data }], { auth: ADMIN })).results;
  return { id: result!.id, seq: result!.seq };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mast-live-policy-'));
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent', databaseUrl: join(dir, 'test.db') });
  server = await MastServer.create({ appDir: dir, schema: compileManifest(testManifest), config, liveAccess: ownerOnly });
  wsUrl = `ws://127.0.0.1:${await server.listen()}/ws`;
  alice = (await server.sessions.issue({ userId: 'alice' })).token;
  bob = (await server.sessions.issue({ userId: 'bob' })).token;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('live queries apply the read hook per subscriber', () => {
  it("never sends another user's row, and removes a row that becomes hidden", async () => {
    const { client: a } = await LiveClient.connect(wsUrl, { token: alice });
    const { client: b } = await LiveClient.connect(wsUrl, { token: bob });
    a.send({ type: 'subscribe', id: 'mine', entity: 'Todo', filter: { done: false } });
    b.send({ type: 'subscribe', id: 'mine', entity: 'Todo', filter: { done: false } });
    const [ra, rb] = await Promise.all([a.next('result'), b.next('result')]);
    expect(ra.query).not.toBe(rb.query);

    const secret = await insert({ title: "alice's", done: false, ownerId: 'alice' });
    const own = await insert({ title: "bob's", done: false, ownerId: 'bob' });
    expect(await a.next('diff')).toMatchObject({ seq: secret.seq, added: [{ id: secret.id }] });
    // Bob's first diff is his own row: alice's, committed before it, never reached him.
    expect(await b.next('diff')).toMatchObject({ seq: own.seq, added: [{ id: own.id }], changed: [], removed: [] });

    // Handing the row to bob hides it from alice.
    const [moved] = (await server.writes.apply([{ op: 'update', entity: 'Todo', id: secret.id, data: { ownerId: 'bob' } }], { auth: ADMIN })).results;
    expect(await a.next('diff')).toMatchObject({ seq: moved!.seq, added: [], changed: [], removed: [secret.id] });
    expect(await b.next('diff')).toMatchObject({ seq: moved!.seq, added: [{ id: secret.id, ownerId: 'bob' }] });
    expect(a.unread()).toEqual([]);
    a.close();
    b.close();
  });

  it('fills a limited window with visible rows only, and shares it between sockets of one user', async () => {
    for (const [p, owner] of [
      [1, 'carol'],
      [2, 'dave'],
      [3, 'carol'],
      [4, 'carol'],
    ] as const) {
      await insert({ title: `w${p}`, done: true, priority: p, ownerId: owner });
    }
    const carol = (await server.sessions.issue({ userId: 'carol' })).token;
    const filter = { done: true, $order: { priority: 'asc' }, $limit: 2 };
    const { client: one } = await LiveClient.connect(wsUrl, { token: carol });
    const { client: two } = await LiveClient.connect(wsUrl, { token: carol });
    one.send({ type: 'subscribe', id: 'w', entity: 'Todo', filter });
    two.send({ type: 'subscribe', id: 'w', entity: 'Todo', filter });
    const [r1, r2] = await Promise.all([one.next('result'), two.next('result')]);
    expect(r1.rows.map((r) => r.title)).toEqual(['w1', 'w3']);
    expect(r2.query).toBe(r1.query);
    // w1 leaves the full window: the refill skips dave's w2.
    const w1 = r1.rows[0]!.id;
    await server.writes.apply([{ op: 'delete', entity: 'Todo', id: w1 }], { auth: ADMIN });
    const [d1, d2] = await Promise.all([one.nextRaw('diff'), two.nextRaw('diff')]);
    expect(d1.message).toMatchObject({ added: [{ title: 'w4' }], removed: [w1] });
    expect(d2.raw).toBe(d1.raw);
    one.close();
    two.close();
  });
});
