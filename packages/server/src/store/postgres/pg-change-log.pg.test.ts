import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { item, migrateBase } from '../conformance/fixtures.js';
import type { ChangeRecord, Store } from '../store.js';
import { createPgStore, type PgStore } from './pg-store.js';
import { TEST_DATABASE_URL, testSchema } from './pg-test-schema.js';

/**
 * The change log with concurrent writers on several nodes (stores with pools of their own on one
 * schema): every reader's `seq > cursor` polling must see every committed entry exactly once, in
 * seq order, with no gap, while rolled-back writes leave nothing.
 */
const schema = testSchema({ maxConnections: 4 });
afterAll(() => schema.drop());

const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/** `count` stores on the test schema, the first freshly emptied and migrated. */
async function nodes(count: number): Promise<PgStore[]> {
  const first = await schema.open();
  stores.push(first);
  const appSchema = await migrateBase(first);
  const all = [first];
  for (let i = 1; i < count; i++) {
    const store = await createPgStore({ url: TEST_DATABASE_URL, schema: schema.name, maxConnections: 4 });
    store.useSchema(appSchema);
    stores.push(store);
    all.push(store);
  }
  return all;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A small deterministic generator, so a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('PostgreSQL change log with concurrent writers', () => {
  it('a second writer numbers its entry only after the first commits, so a reader never passes an uncommitted seq', async () => {
    const [a, b] = await nodes(2);
    let releaseFirst!: () => void;
    const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstAppended!: () => void;
    const appended = new Promise<void>((resolve) => (firstAppended = resolve));
    const first = a!.write(async (tx) => {
      await tx.insert('Item', item('one'));
      const entry = await tx.appendChange({ entity: 'Item', rowId: 'one', kind: 'insert', data: null, opId: null });
      firstAppended();
      await firstHolds;
      return entry.seq;
    });
    await appended;
    let secondDone = false;
    const second = b!
      .write(async (tx) => {
        await tx.insert('Item', item('two'));
        return (await tx.appendChange({ entity: 'Item', rowId: 'two', kind: 'insert', data: null, opId: null })).seq;
      })
      .finally(() => (secondDone = true));
    try {
      await pause(150);
      // The second writer waits on the first's counter lock: nothing committed, nothing to read.
      expect(secondDone).toBe(false);
      expect(await b!.changesSince(0, 10)).toEqual([]);
    } finally {
      releaseFirst();
    }
    expect(await first).toBe(1);
    expect(await second).toBe(2);
    expect((await a!.changesSince(0, 10)).map((c) => [c.seq, c.rowId])).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
  });

  it('a writer that rolls back after numbering leaves no gap: the next writer takes its number', async () => {
    const [a, b] = await nodes(2);
    await expect(
      a!.write(async (tx) => {
        await tx.appendChange({ entity: 'Item', rowId: 'lost', kind: 'insert', data: null, opId: null });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const seq = await b!.write(async (tx) => (await tx.appendChange({ entity: 'Item', rowId: 'kept', kind: 'insert', data: null, opId: null })).seq);
    expect(seq).toBe(1);
    expect(await a!.changeLogBounds()).toEqual({ head: 1, prunedThrough: 0 });
  });

  it('many writers on three nodes: every reader sees every committed entry once, in order, with no gap', async () => {
    const all = await nodes(3);
    const rand = prng(16);
    const WRITERS_PER_NODE = 4;
    const WRITES_EACH = 15;
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    let writing = true;

    const writer = async (store: Store, name: string): Promise<void> => {
      for (let i = 0; i < WRITES_EACH; i++) {
        const id = `${name}-${i}`;
        const fail = rand() < 0.15;
        const before = Math.floor(rand() * 3);
        const after = Math.floor(rand() * 3);
        try {
          await store.write(async (tx) => {
            await tx.insert('Item', item(id));
            if (before) await pause(before);
            await tx.appendChange({ entity: 'Item', rowId: id, kind: 'insert', data: { id }, opId: null });
            if (after) await pause(after);
            if (fail) throw new Error('rolled back on purpose');
          });
          committed.add(id);
        } catch (err) {
          if (!fail) throw err;
          rolledBack.add(id);
        }
      }
    };

    const reader = async (store: Store): Promise<ChangeRecord[]> => {
      const seen: ChangeRecord[] = [];
      let cursor = 0;
      for (;;) {
        const stillWriting = writing;
        const page = await store.changesSince(cursor, 7);
        seen.push(...page);
        if (page.length > 0) cursor = page[page.length - 1]!.seq;
        else if (!stillWriting) return seen;
        else await pause(1);
      }
    };

    const readers = all.map((store) => reader(store));
    await Promise.all(all.flatMap((store, n) => Array.from({ length: WRITERS_PER_NODE }, (_, w) => writer(store, `n${n}w${w}`))));
    writing = false;
    const results = await Promise.all(readers);

    expect(committed.size + rolledBack.size).toBe(3 * WRITERS_PER_NODE * WRITES_EACH);
    expect(rolledBack.size).toBeGreaterThan(0);
    for (const seen of results) {
      // Gap-free and in order: the n-th entry a reader sees has seq n.
      expect(seen.map((c) => c.seq)).toEqual(Array.from({ length: committed.size }, (_, i) => i + 1));
      // Exactly the committed writes, each once.
      expect(seen.map((c) => c.rowId).sort()).toEqual([...committed].sort());
    }
    expect((await all[2]!.changeLogBounds()).head).toBe(committed.size);
  });
});
