import { afterAll, afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { item, migrateBase } from '../conformance/fixtures.js';
import type { ChangeRecord } from '../store.js';
import type { PgChangeFeed } from './pg-change-feed.js';
import { createPgStore, type PgStore } from './pg-store.js';
import { TEST_DATABASE_URL, testSchema } from './pg-test-schema.js';

/**
 * A node following the change log other nodes write: woken by NOTIFY, reading the log itself,
 * so every entry arrives once and in order, also across a dropped listen connection.
 */
const schema = testSchema({ maxConnections: 4 });
afterAll(() => schema.drop());

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function nodes(count: number, notify = true): Promise<PgStore[]> {
  const first = await schema.open();
  closers.push(() => first.close());
  const appSchema = await migrateBase(first);
  const all = [first];
  for (let i = 1; i < count; i++) {
    const store = await createPgStore({ url: TEST_DATABASE_URL, schema: schema.name, maxConnections: 4, notify });
    store.useSchema(appSchema);
    closers.push(() => store.close());
    all.push(store);
  }
  return all;
}

async function follow(store: PgStore, seen: ChangeRecord[], errors: unknown[] = []): Promise<PgChangeFeed> {
  const feed = await store.followChanges({ from: 0, pageSize: 16, reconnectMs: 50, onChanges: (page) => seen.push(...page), onError: (err) => errors.push(err) });
  closers.push(() => feed.close());
  return feed;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await pause(10);
  }
}

async function writeOne(store: PgStore, id: string): Promise<void> {
  await store.write(async (tx) => {
    await tx.insert('Item', item(id));
    await tx.appendChange({ entity: 'Item', rowId: id, kind: 'insert', data: { id }, opId: null });
  });
}

describe('PostgreSQL change feed', () => {
  it('a commit on another node wakes the feed through NOTIFY: the feed itself never polls', async () => {
    const [writer, reader] = await nodes(2);
    const seen: ChangeRecord[] = [];
    await follow(reader!, seen);
    await writeOne(writer!, 'a');
    await until(() => seen.length === 1, 5000);
    expect(seen.map((c) => [c.seq, c.rowId])).toEqual([[1, 'a']]);
  });

  it('without notifications nothing wakes it (what the previous case relies on)', async () => {
    const [, quiet] = await nodes(2, false);
    const seen: ChangeRecord[] = [];
    await follow(quiet!, seen);
    await writeOne(quiet!, 'a');
    await pause(400);
    expect(seen).toEqual([]);
  });

  it('delivers the writes of many writers on two nodes once each, in seq order, across a dropped listen connection', async () => {
    const [a, b] = await nodes(2);
    const seen: ChangeRecord[] = [];
    const errors: unknown[] = [];
    const feed = await follow(b!, seen, errors);
    const firstPid = feed.backendPid;
    expect(firstPid).not.toBeNull();
    let stop = false;
    const writer = async (store: PgStore, name: string): Promise<number> => {
      let n = 0;
      while (!stop) await writeOne(store, `${name}-${n++}`);
      return n;
    };
    const writers = [writer(a!, 'a1'), writer(a!, 'a2'), writer(b!, 'b1')];
    await until(() => seen.length >= 20);
    // Drop the listen connection mid-burst, as a network cut or a server restart would.
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    closers.push(() => admin.end());
    await admin.query('SELECT pg_terminate_backend($1)', [firstPid]);
    await until(() => feed.backendPid !== null && feed.backendPid !== firstPid);
    const atReconnect = seen.length;
    await until(() => seen.length >= atReconnect + 20);
    stop = true;
    const written = (await Promise.all(writers)).reduce((sum, n) => sum + n, 0);
    const head = (await a!.changeLogBounds()).head;
    expect(head).toBe(written);
    await until(() => feed.cursor === head);
    await feed.settled();
    expect(seen.map((c) => c.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(errors.length).toBeGreaterThan(0);
  });
});
