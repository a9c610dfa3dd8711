import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../src/node.js';
import type { MastClient, MastClientError } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { clientOf, restart, serverRows, startServer, tokenFor, until } from './harness.js';

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function server(): Promise<TestServer> {
  const t = await startServer();
  cleanup.push(() => t.close());
  return t;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mast-outbox-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function owned(client: MastClient): MastClient {
  cleanup.push(() => client.close());
  return client;
}

describe('the offline outbox', () => {
  it('queues writes while the server is away and replays them in order; a refused one is reported and skipped', async () => {
    let t = await server();
    const errors: MastClientError[] = [];
    const client = owned(clientOf(t, { auth: await tokenFor(t, 'ann'), onError: (e) => errors.push(e) }));
    await client.connected();
    const port = Number(new URL(t.url).port);
    const dir = t.dir;
    await t.server.close();
    await until(() => client.status.state !== 'open', 'offline');

    const a = client.insert('Todo', { title: 'a', done: false, ownerId: 'ann' });
    const refused = client.insert('Todo', { title: 'not mine', done: false, ownerId: 'bob' });
    const b = client.insert('Todo', { title: 'b', done: false, ownerId: 'ann' });
    const { id } = { id: (await Promise.race([a, new Promise<{ id: string }>((r) => setTimeout(() => r({ id: '' }), 50))])).id };
    expect(id).toBe(''); // nothing answered while offline
    await until(() => client.status.pendingWrites === 3, 'three pending writes');
    const q = client.query('Todo', { $order: { title: 'asc' } });
    expect(q.rows.map((r) => r.title)).toEqual(['a', 'b', 'not mine']);

    t = await startServer({ port, dir });
    cleanup.push(() => t.close());
    const first = await a;
    await expect(refused).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    const third = await b;
    expect(third.seq).toBeGreaterThan(first.seq); // sent in order
    expect(errors.map((e) => e.code)).toEqual(['POLICY_DENIED']);
    await client.flush();
    expect(client.status.pendingWrites).toBe(0);
    expect((await serverRows(t, 'Todo')).map((r) => r.title).sort()).toEqual(['a', 'b']);
    await client.sync();
    expect(q.rows.map((r) => r.title)).toEqual(['a', 'b']);
    q.close();
  });

  it('sends a write again with its op id when its answer was lost, and the server writes it once', async () => {
    const t = await server();
    let lose = 1;
    const client = owned(
      clientOf(t, {
        auth: await tokenFor(t, 'ann'),
        fetch: async (url, init) => {
          const res = await fetch(url, init as RequestInit);
          if (init?.method === 'POST' && url.includes('/api/entities/') && lose-- > 0) throw new Error('connection reset');
          return res;
        },
      }),
    );
    await client.connected();
    const { id } = await client.insert('Todo', { title: 'once', done: false, ownerId: 'ann' });
    const rows = (await serverRows(t, 'Todo')).filter((r) => r.title === 'once');
    expect(rows).toEqual([expect.objectContaining({ id })]);
  });

  it('keeps pending writes in a directory across a restart of the client, shows them at once, then sends them', async () => {
    let t = await server();
    const token = await tokenFor(t, 'ann');
    const dir = tempDir();
    const first = owned(clientOf(t, { auth: token, storage: await fileStorage(dir) }));
    await first.connected();
    const port = Number(new URL(t.url).port);
    const appDir = t.dir;
    await t.server.close();
    void first.insert('Todo', { title: 'survives', done: false, ownerId: 'ann' }).catch(() => {});
    await until(() => first.status.pendingWrites === 1, 'one pending write');
    expect(first.status.storage).toBe('durable');
    await first.close();
    expect(readdirSync(join(dir, 'outbox')).length).toBe(1);

    t = await startServer({ port, dir: appDir });
    cleanup.push(() => t.close());
    const second = owned(clientOf(t, { auth: token, storage: await fileStorage(dir) }));
    const q = second.query('Todo', {});
    await until(() => q.rows.some((r) => r.title === 'survives'), 'the pending write shown after the reload');
    await second.connected();
    await second.flush();
    expect((await serverRows(t, 'Todo')).filter((r) => r.title === 'survives').length).toBe(1);
    expect(readdirSync(join(dir, 'outbox')).length).toBe(0);
    q.close();
  });

  it('allows one client per outbox directory', async () => {
    const dir = tempDir();
    const storage = await fileStorage(dir);
    cleanup.push(() => storage.close());
    await expect(fileStorage(dir)).rejects.toMatchObject({ code: 'OUTBOX_LOCKED' });
    await storage.close();
    const again = await fileStorage(dir);
    await again.close();
  });

  it("clears the previous user's cache and outbox on an identity change, in memory and on disk", async () => {
    const t = await server();
    const ann = await tokenFor(t, 'ann');
    const bob = await tokenFor(t, 'bob');
    const dir = tempDir();
    const gate = new Promise<never>(() => {});
    const client = owned(
      clientOf(t, {
        auth: ann,
        storage: await fileStorage(dir),
        // Writes never get through: they stay pending.
        fetch: async (url, init) => (init?.method === 'POST' && url.includes('/api/entities/') ? gate : fetch(url, init as RequestInit)),
      }),
    );
    await client.connected();
    await t.request('POST', '/api/entities/Todo', { body: { title: 'ann row', done: false, ownerId: 'ann' }, headers: { authorization: `Bearer ${ann}` } });
    const q = client.query('Todo', {});
    await until(() => q.rows.length === 1, "ann's row");
    const pending = client.insert('Todo', { title: 'ann pending', done: false, ownerId: 'ann' });
    pending.catch(() => {});
    void client.insert('Todo', { title: 'second', done: false, ownerId: 'ann' }).catch(() => {});
    await until(() => client.status.pendingWrites === 2, 'pending');

    await client.setAuth(bob);
    await expect(pending).rejects.toMatchObject({ code: 'IDENTITY_CHANGED' });
    expect(client.status.pendingWrites).toBe(0);
    expect(client.userId).toBe('bob');
    expect(readdirSync(join(dir, 'outbox'))).toEqual([]);
    await until(() => !q.loading, "bob's result");
    expect(q.rows).toEqual([]);
    q.close();
  });

  it('clears a stored outbox that belonged to another user when the client starts', async () => {
    let t = await server();
    const dir = tempDir();
    const first = owned(clientOf(t, { auth: await tokenFor(t, 'ann'), storage: await fileStorage(dir) }));
    await first.connected();
    const port = Number(new URL(t.url).port);
    const appDir = t.dir;
    await t.server.close();
    void first.insert('Todo', { title: 'ann offline', done: false, ownerId: 'ann' }).catch(() => {});
    await until(() => first.status.pendingWrites === 1, 'pending');
    await first.close();
    t = await startServer({ port, dir: appDir });
    cleanup.push(() => t.close());
    const second = owned(clientOf(t, { auth: await tokenFor(t, 'bob'), storage: await fileStorage(dir) }));
    await second.connected();
    expect(second.status.pendingWrites).toBe(0);
    expect(readdirSync(join(dir, 'outbox'))).toEqual([]);
    expect(await serverRows(t, 'Todo')).toEqual([]);
  });
});

describe('rows kept across a reload', () => {
  it("shows the last rows of a query after a reload while offline, then the server's", async () => {
    let t = await server();
    const token = await tokenFor(t, 'ann');
    const dir = tempDir();
    const first = owned(clientOf(t, { auth: token, storage: await fileStorage(dir) }));
    await first.insert('Todo', { title: 'kept', done: false, ownerId: 'ann' });
    const q1 = first.query('Todo', { done: false });
    await until(() => q1.rows.length === 1 && !q1.loading && first.optimisticWrites === 0, 'the server row');
    await new Promise((r) => setTimeout(r, 120)); // the coalesced save
    const port = Number(new URL(t.url).port);
    const appDir = t.dir;
    await first.close();
    await t.server.close();

    const second = owned(clientOf(t, { auth: token, storage: await fileStorage(dir) }));
    const q2 = second.query('Todo', { done: false });
    await until(() => q2.rows.length === 1, 'the kept row');
    expect(q2.state).toMatchObject({ loading: false, fromCache: true });
    expect(q2.rows[0]).toMatchObject({ title: 'kept' });

    t = await startServer({ port, dir: appDir });
    cleanup.push(() => t.close());
    await until(() => !q2.state.fromCache, "the server's answer");
    expect(q2.rows.map((r) => r.title)).toEqual(['kept']);
    q2.close();
  });

  it("does not show another user's kept rows", async () => {
    const t = await server();
    const dir = tempDir();
    const first = owned(clientOf(t, { auth: await tokenFor(t, 'ann'), storage: await fileStorage(dir) }));
    await first.insert('Todo', { title: 'ann only', done: false, ownerId: 'ann' });
    const q1 = first.query('Todo', {});
    await until(() => q1.rows.length === 1 && first.optimisticWrites === 0, "ann's row");
    await new Promise((r) => setTimeout(r, 120));
    await first.close();
    const second = owned(clientOf(t, { auth: await tokenFor(t, 'bob'), storage: await fileStorage(dir) }));
    const q2 = second.query('Todo', {});
    const seen: number[] = [];
    q2.subscribe(() => seen.push(q2.rows.length));
    await q2.ready();
    await second.sync();
    expect(seen.every((n) => n === 0)).toBe(true);
    expect(q2.rows).toEqual([]);
  });
});
