import { describe, expect, it } from 'vitest';
import type { WriteTx } from '../store.js';
import { expectAppError, idSet, item, migrateBase, type StoreRef } from './fixtures.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const change = (rowId: string) => ({ entity: 'Item', rowId, kind: 'insert', data: null, opId: null }) as const;

/** Unique indexes, atomicity, the write queue and read isolation. */
export function transactionCases(store: StoreRef): void {
  describe('unique constraints', () => {
    it('a unique field refuses a duplicate and names the field; NULLs never collide', async () => {
      await migrateBase(store());
      await store().write((tx) => tx.insert('Item', item('a', { code: 'A1' })));
      const err = await expectAppError(
        store().write((tx) => tx.insert('Item', item('b', { code: 'A1' }))),
        'UNIQUE_VIOLATION',
        ['code'],
      );
      expect(err.status).toBe(409);
      expect(err.message).toContain('Item.code');
      // The value is not echoed: the row holding it may be one the caller cannot read.
      expect(err.message).not.toContain('A1');
      await store().write(async (tx) => {
        await tx.insert('Item', item('n1'));
        await tx.insert('Item', item('n2', { code: null }));
      });
      expect(await store().read((tx) => tx.count('Item'))).toBe(3);
    });

    it('a composite unique index names all its fields; a NULL part never collides', async () => {
      await migrateBase(store());
      await store().write((tx) => tx.insert('Item', item('a', { owner: 'u1', slug: 's' })));
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('b', { owner: 'u1', slug: 's' }))),
        'UNIQUE_VIOLATION',
        ['owner', 'slug'],
      );
      await store().write(async (tx) => {
        await tx.insert('Item', item('c', { owner: 'u2', slug: 's' }));
        await tx.insert('Item', item('d', { owner: 'u1', slug: null }));
        await tx.insert('Item', item('e', { owner: 'u1', slug: null }));
      });
      expect(await store().read((tx) => tx.count('Item'))).toBe(4);
    });

    it('a duplicate id is a violation on id; an update into a taken value is one too', async () => {
      await migrateBase(store());
      await store().write(async (tx) => {
        await tx.insert('Item', item('a', { code: 'X' }));
        await tx.insert('Item', item('b', { code: 'Y' }));
      });
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('a'))),
        'UNIQUE_VIOLATION',
        ['id'],
      );
      const err = await expectAppError(
        store().write((tx) => tx.update('Item', 'b', { code: 'X' })),
        'UNIQUE_VIOLATION',
        ['code'],
      );
      expect(err.message).not.toContain('X');
      expect(await store().read((tx) => tx.get('Item', 'b'))).toMatchObject({ code: 'Y' });
    });
  });

  describe('transactions', () => {
    it('returns what the callback returns', async () => {
      await migrateBase(store());
      expect(await store().write(async (tx) => (await tx.insert('Item', item('a'))).id + '!')).toBe('a!');
      expect(await store().read(async (tx) => (await tx.count('Item')) * 2)).toBe(2);
    });

    it('a throw after two inserts leaves no rows and no change-log entries', async () => {
      await migrateBase(store());
      const failed = store().write(async (tx) => {
        await tx.insert('Item', item('a'));
        await tx.appendChange(change('a'));
        await tx.insert('Item', item('b'));
        await tx.appendChange(change('b'));
        throw new Error('boom');
      });
      await expect(failed).rejects.toThrow('boom');
      expect(await store().read((tx) => tx.count('Item'))).toBe(0);
      expect(await store().changesSince(0, 100)).toEqual([]);
      expect(await store().changeLogBounds()).toEqual({ head: 0, prunedThrough: 0 });
    });

    it('a unique violation rolls back the whole write', async () => {
      await migrateBase(store());
      await store().write((tx) => tx.insert('Item', item('a', { code: 'X' })));
      await expectAppError(
        store().write(async (tx) => {
          await tx.insert('Item', item('b'));
          await tx.insert('Item', item('c', { code: 'X' }));
        }),
        'UNIQUE_VIOLATION',
      );
      expect(idSet(await store().read((tx) => tx.find('Item', {})))).toEqual(['a']);
    });

    it('keeps the change log gap-free across a rolled-back write', async () => {
      await migrateBase(store());
      const first = await store().write((tx) => tx.appendChange(change('a')));
      await expect(
        store().write(async (tx) => {
          await tx.appendChange(change('x'));
          await tx.appendChange(change('y'));
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const second = await store().write((tx) => tx.appendChange(change('b')));
      expect(second.seq).toBe(first.seq + 1);
      expect((await store().changesSince(0, 10)).map((c) => [c.seq, c.rowId])).toEqual([
        [first.seq, 'a'],
        [first.seq + 1, 'b'],
      ]);
    });

    it('concurrent writes queue: each sees the previous one, and seqs follow commit order', async (ctx) => {
      await migrateBase(store());
      await store().write((tx) => tx.insert('Item', item('counter', { count: 0 })));
      const bump = async (tx: WriteTx): Promise<number> => {
        const row = await tx.get('Item', 'counter');
        await new Promise((r) => setTimeout(r, 1)); // give another writer a chance to interleave
        const next = (row!['count'] as number) + 1;
        await tx.update('Item', 'counter', { count: next });
        await tx.appendChange(change(`bump-${next}`));
        return next;
      };
      if (store().capabilities.concurrentWriters) ctx.skip();
      const results = await Promise.all(Array.from({ length: 10 }, () => store().write(bump)));
      expect(results).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await store().read((tx) => tx.get('Item', 'counter'))).toMatchObject({ count: 10 });
      const log = await store().changesSince(0, 100);
      expect(log.map((c) => c.rowId)).toEqual(results.map((n) => `bump-${n}`));
      expect(log.map((c) => c.seq)).toEqual(log.map((_, i) => log[0]!.seq + i));
    });

    it('a failing write does not stall the ones queued behind it', async () => {
      await migrateBase(store());
      const outcomes = await Promise.allSettled([
        store().write((tx) => tx.insert('Item', item('a'))),
        store().write(async () => {
          throw new Error('middle fails');
        }),
        store().write(() => {
          throw new Error('sync throw');
        }),
        store().write((tx) => tx.insert('Item', item('b'))),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect(idSet(await store().read((tx) => tx.find('Item', {})))).toEqual(['a', 'b']);
    });

    it('a read during a write does not see its uncommitted rows', async (ctx) => {
      if (!store().capabilities.snapshotReads) ctx.skip();
      await migrateBase(store());
      const inserted = deferred();
      const release = deferred();
      const writing = store().write(async (tx) => {
        await tx.insert('Item', item('a'));
        inserted.resolve();
        await release.promise;
      });
      await inserted.promise;
      expect(await store().read((tx) => tx.count('Item'))).toBe(0);
      expect(await store().changeLogBounds()).toEqual({ head: 0, prunedThrough: 0 });
      release.resolve();
      await writing;
      expect(await store().read((tx) => tx.count('Item'))).toBe(1);
    });

    it('a read keeps one snapshot while a write commits during it', async (ctx) => {
      if (!store().capabilities.snapshotReads) ctx.skip();
      await migrateBase(store());
      const counted = deferred();
      const committed = deferred();
      const reading = store().read(async (tx) => {
        const first = await tx.count('Item');
        counted.resolve();
        await committed.promise;
        return [first, await tx.count('Item'), (await tx.find('Item', {})).length];
      });
      await counted.promise;
      await store().write((tx) => tx.insert('Item', item('a')));
      committed.resolve();
      expect(await reading).toEqual([0, 0, 0]);
      expect(await store().read((tx) => tx.count('Item'))).toBe(1);
    });

    it('a transaction handle is dead once its callback has finished', async () => {
      await migrateBase(store());
      let leaked: WriteTx | undefined;
      await store().write(async (tx) => {
        leaked = tx;
      });
      await expect(leaked!.insert('Item', item('late'))).rejects.toThrow();
      expect(await store().read((tx) => tx.count('Item'))).toBe(0);
    });
  });
}
