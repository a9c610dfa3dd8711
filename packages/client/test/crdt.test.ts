import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MastClient } from '../src/index.js';
import type { TestServer } from '../../../test/helpers/test-server.js';
import { ADMIN, clientOf, startServer, tokenFor, until } from './harness.js';

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let current: TestServer | undefined;
async function server(options: { port?: number; dir?: string } = {}): Promise<TestServer> {
  current = await startServer(options);
  return current;
}
cleanup.push(() => current?.close());

function owned(client: MastClient): MastClient {
  cleanup.push(() => client.close());
  return client;
}

async function body(t: TestServer, id: string): Promise<unknown> {
  return ((await t.request('GET', `/api/entities/Note/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json as { body: unknown }).body;
}

const DB_FILES = ['test.db', 'test.db-wal', 'test.db-shm'];

describe('CRDT rows', () => {
  it("keeps two clients' documents in sync through the server, character by character", async () => {
    const t = await server();
    cleanup.push(() => t.close());
    const ann = owned(clientOf(t, { auth: await tokenFor(t, 'ann') }));
    const bob = owned(clientOf(t, { auth: await tokenFor(t, 'bob') }));
    await ann.insert('Note', { id: 'n1', title: 'Shopping', body: 'milk' });
    const a = ann.doc('Note', 'n1');
    const b = bob.doc('Note', 'n1');
    await Promise.all([a.ready(), b.ready()]);
    expect(b.doc.getText('body').toString()).toBe('milk');

    a.doc.getText('body').insert(4, ', eggs');
    a.doc.commit();
    await until(() => b.doc.getText('body').toString() === 'milk, eggs', "bob to see ann's typing");
    b.doc.getText('body').insert(0, '- ');
    b.doc.commit();
    await until(() => a.doc.getText('body').toString() === '- milk, eggs', "ann to see bob's typing");
    await Promise.all([ann.flush(), bob.flush()]);
    expect(await body(t, 'n1')).toBe('- milk, eggs');
  });

  it('queues edits made offline and pushes them after the reconnect', async () => {
    let t = await server();
    const ann = owned(clientOf(t, { auth: await tokenFor(t, 'ann') }));
    await ann.insert('Note', { id: 'n2', title: 'Plan', body: 'a' });
    const a = ann.doc('Note', 'n2');
    await a.ready();
    const port = Number(new URL(t.url).port);
    const dir = t.dir;
    await t.server.close();
    await until(() => ann.status.state !== 'open', 'offline');
    a.doc.getText('body').insert(1, 'b');
    a.doc.commit();
    a.doc.getText('body').insert(2, 'c');
    a.doc.commit();
    await until(() => ann.status.pendingWrites === 2, 'two queued updates');
    t = await server({ port, dir });
    await ann.flush();
    expect(await body(t, 'n2')).toBe('abc');
    await t.close();
    current = undefined;
  });

  it('fills a gap after the server lost history it had sent (restored database): retry from received, then resync', async () => {
    let t = await server();
    const pushes: string[] = [];
    const ann = owned(
      clientOf(t, {
        auth: await tokenFor(t, 'ann'),
        fetch: async (url, init) => {
          const res = await fetch(url, init as RequestInit);
          if (url.includes('/api/crdt/')) pushes.push(res.ok ? 'ok' : ((await res.clone().json()) as { error: { code: string } }).error.code);
          return res;
        },
      }),
    );
    await ann.insert('Note', { id: 'n3', title: 'Log', body: 'one' });
    const a = ann.doc('Note', 'n3');
    await a.ready();
    const port = Number(new URL(t.url).port);
    const dir = t.dir;
    // A backup of the database as it is now.
    await t.server.close();
    for (const f of DB_FILES) if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(dir, `${f}.bak`));
    t = await server({ port, dir });
    await until(() => ann.status.state === 'open', 'back');
    a.doc.getText('body').insert(3, ' two');
    a.doc.commit();
    await ann.flush();
    expect(await body(t, 'n3')).toBe('one two');
    await new Promise((r) => setTimeout(r, 100)); // the echo of the push reaches the document
    // Restore the backup: the server no longer has " two", which the client received.
    await t.server.close();
    for (const f of DB_FILES) {
      rmSync(join(dir, f), { force: true });
      if (existsSync(join(dir, `${f}.bak`))) copyFileSync(join(dir, `${f}.bak`), join(dir, f));
    }
    t = await server({ port, dir });
    await until(() => ann.status.state === 'open', 'back after the restore');
    a.doc.getText('body').insert(7, ' three');
    a.doc.commit();
    await ann.flush();
    expect(await body(t, 'n3')).toBe('one two three');
    // The push of " three" and the one from `received` were refused; the one after the resync went through.
    expect(pushes).toEqual(['ok', 'CRDT_MISSING_DEPENDENCIES', 'CRDT_MISSING_DEPENDENCIES', 'ok']);
    expect(ann.status.pendingWrites).toBe(0);
  });

  it('reports a document of a row that does not exist', async () => {
    const t = await server();
    cleanup.push(() => t.close());
    const ann = owned(clientOf(t, { auth: await tokenFor(t, 'ann') }));
    await ann.connected();
    const d = ann.doc('Note', 'missing');
    await expect(d.ready()).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('CRDT rows created offline', () => {
  it("redoes edits made on a document of its own on the server's document: no text twice, nothing lost", async () => {
    let t = await server();
    const ann = owned(clientOf(t, { auth: await tokenFor(t, 'ann') }));
    const errors: string[] = [];
    await ann.connected();
    const port = Number(new URL(t.url).port);
    const dir = t.dir;
    await t.server.close();
    await until(() => ann.status.state !== 'open', 'offline');
    // Offline: the row and its document are made here.
    void ann.insert('Note', { id: 'n9', title: 'List', body: '' }).catch((e: { code: string }) => errors.push(e.code));
    const d = ann.doc('Note', 'n9');
    d.doc.getText('body').insert(0, 'milk');
    d.doc.commit();
    d.doc.getText('body').insert(4, ', eggs');
    d.doc.commit();
    await until(() => ann.status.pendingWrites === 3, 'the insert and two updates queued');

    t = await server({ port, dir });
    await until(() => d.status === 'synced', "the server's document adopted");
    await ann.flush();
    await until(async () => (await body(t, 'n9')) === 'milk, eggs', 'the server row');
    expect(d.doc.getText('body').toString()).toBe('milk, eggs');
    expect(errors).toEqual([]);
    // Another client sees the same single copy.
    const bob = owned(clientOf(t, { auth: await tokenFor(t, 'bob') }));
    const b = bob.doc('Note', 'n9');
    await b.ready();
    expect(b.doc.getText('body').toString()).toBe('milk, eggs');
    await t.close();
    current = undefined;
  });
});

describe('CRDT documents across a reload', () => {
  it('keeps a document and its queued edits in storage: shown at once after a reload while offline, pushed on reconnect', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { fileStorage } = await import('../src/node.js');
    const storeDir = mkdtempSync(join(tmpdir(), 'mast-docs-'));
    cleanup.push(() => rmSync(storeDir, { recursive: true, force: true }));
    let t = await server();
    const token = await tokenFor(t, 'ann');
    const first = owned(clientOf(t, { auth: token, storage: await fileStorage(storeDir) }));
    await first.insert('Note', { id: 'n7', title: 'Draft', body: 'start' });
    const d1 = first.doc('Note', 'n7');
    await d1.ready();
    const port = Number(new URL(t.url).port);
    const dir = t.dir;
    await t.server.close();
    await until(() => first.status.state !== 'open', 'offline');
    d1.doc.getText('body').insert(5, ' and more');
    d1.doc.commit();
    await until(() => first.status.pendingWrites === 1, 'the queued edit');
    await new Promise((r) => setTimeout(r, 50)); // the coalesced save
    await first.close();

    // A reload while still offline: the document shows the edit before any server answers.
    const second = owned(clientOf(t, { auth: token, storage: await fileStorage(storeDir) }));
    const d2 = second.doc('Note', 'n7');
    await d2.restored;
    expect(d2.doc.getText('body').toString()).toBe('start and more');
    await until(() => second.status.pendingWrites === 1, 'the stored edit queued again');

    t = await server({ port, dir });
    await second.flush();
    await d2.ready();
    expect(await body(t, 'n7')).toBe('start and more');
    expect(d2.doc.getText('body').toString()).toBe('start and more');
    await t.close();
    current = undefined;
  });
});
