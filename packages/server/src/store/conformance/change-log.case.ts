import { describe, expect, it } from 'vitest';
import type { ChangeRecord, NewChange } from '../store.js';
import { expectAppError, migrateBase, type StoreRef } from './fixtures.js';

const insert = (rowId: string, data: NewChange['data'] = null, opId: string | null = null): NewChange => ({
  entity: 'Item',
  rowId,
  kind: 'insert',
  data,
  opId,
});

const KEEP_ALL = { maxAgeMs: Number.POSITIVE_INFINITY, maxEntries: Number.POSITIVE_INFINITY };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The change log (append, paging, bounds, retention) and op records. */
export function changeLogCases(store: StoreRef): void {
  describe('change log', () => {
    async function appendMany(n: number, prefix = 'r'): Promise<ChangeRecord[]> {
      return store().write(async (tx) => {
        const out: ChangeRecord[] = [];
        for (let i = 0; i < n; i++) out.push(await tx.appendChange(insert(`${prefix}${i}`)));
        return out;
      });
    }

    it('starts empty', async () => {
      await migrateBase(store());
      expect(await store().changeLogBounds()).toEqual({ head: 0, prunedThrough: 0 });
      expect(await store().changesSince(0, 10)).toEqual([]);
    });

    it('appends records with seq, commit time and the row as given', async () => {
      await migrateBase(store());
      const before = Date.now();
      const row = { id: 'a', name: 'x', done: true, meta: { n: [1, 2] }, count: null };
      const [first, second] = await store().write(async (tx) => [
        await tx.appendChange(insert('a', row, 'op-1')),
        await tx.appendChange({ entity: 'Item', rowId: 'a', kind: 'delete', data: null, before: row, opId: null }),
      ]);
      const after = Date.now();
      expect(first).toMatchObject({ seq: 1, entity: 'Item', rowId: 'a', kind: 'insert', data: row, opId: 'op-1' });
      expect(second).toMatchObject({ seq: 2, kind: 'delete', data: null, before: row, opId: null });
      expect(first!.before).toBeNull();
      expect(first!.at).toBeGreaterThanOrEqual(before);
      expect(first!.at).toBeLessThanOrEqual(after);
      expect(await store().changesSince(0, 10)).toEqual([first, second]);
      expect(await store().changeLogBounds()).toEqual({ head: 2, prunedThrough: 0 });
    });

    it('pages with changesSince', async () => {
      await migrateBase(store());
      await appendMany(5);
      const seqs = async (since: number, limit: number) => (await store().changesSince(since, limit)).map((c) => c.seq);
      expect(await seqs(0, 2)).toEqual([1, 2]);
      expect(await seqs(2, 2)).toEqual([3, 4]);
      expect(await seqs(4, 2)).toEqual([5]);
      expect(await seqs(5, 2)).toEqual([]);
      expect(await seqs(0, 0)).toEqual([]);
      expect((await store().changesSince(3, 1))[0]!.rowId).toBe('r3');
    });

    it('prunes by size, keeping the newest entries, and reports the bounds', async () => {
      await migrateBase(store());
      await appendMany(10);
      expect(await store().pruneChanges({ maxAgeMs: Number.POSITIVE_INFINITY, maxEntries: 3 })).toBe(7);
      expect(await store().changeLogBounds()).toEqual({ head: 10, prunedThrough: 7 });
      expect((await store().changesSince(0, 100)).map((c) => c.seq)).toEqual([8, 9, 10]);
      expect(await store().pruneChanges({ maxAgeMs: Number.POSITIVE_INFINITY, maxEntries: 3 })).toBe(0);
      expect(await store().pruneChanges(KEEP_ALL)).toBe(0);
      expect(await store().changeLogBounds()).toEqual({ head: 10, prunedThrough: 7 });
    });

    it('prunes by age', async () => {
      await migrateBase(store());
      const [old] = await appendMany(2, 'old');
      await sleep(5);
      const [young] = await appendMany(1, 'young');
      expect(young!.at).toBeGreaterThan(old!.at);
      // Everything strictly older than `now - maxAgeMs` goes.
      expect(await store().pruneChanges({ maxAgeMs: 0, maxEntries: Number.POSITIVE_INFINITY }, young!.at)).toBe(2);
      expect((await store().changesSince(0, 10)).map((c) => c.rowId)).toEqual(['young0']);
      expect(await store().changeLogBounds()).toEqual({ head: 3, prunedThrough: 2 });
    });

    it('keeps the head when everything is pruned, and continues after it', async () => {
      await migrateBase(store());
      await appendMany(4);
      expect(await store().pruneChanges({ maxAgeMs: 1000, maxEntries: 100 }, Date.now() + 60_000)).toBe(4);
      expect(await store().changeLogBounds()).toEqual({ head: 4, prunedThrough: 4 });
      expect(await store().changesSince(0, 10)).toEqual([]);
      const [next] = await appendMany(1, 'next');
      expect(next!.seq).toBe(5);
      expect(await store().pruneChanges({ maxAgeMs: Number.POSITIVE_INFINITY, maxEntries: 0 })).toBe(1);
      expect(await store().changeLogBounds()).toEqual({ head: 5, prunedThrough: 5 });
    });
  });

  describe('op records', () => {
    it('records, reads back and refuses a reused op id', async () => {
      await migrateBase(store());
      const result = { ok: true, rows: [{ id: 'a' }], n: 3 };
      await store().write((tx) => tx.putOp({ opId: 'op-1', fingerprint: 'f1', result }));
      expect(await store().read((tx) => tx.getOp('op-1'))).toEqual({ opId: 'op-1', fingerprint: 'f1', result });
      expect(await store().write((tx) => tx.getOp('op-1'))).toEqual({ opId: 'op-1', fingerprint: 'f1', result });
      expect(await store().read((tx) => tx.getOp('op-2'))).toBeNull();
      await expectAppError(
        store().write((tx) => tx.putOp({ opId: 'op-1', fingerprint: 'f2', result: null })),
        'OP_ID_REUSED',
      );
      expect(await store().read((tx) => tx.getOp('op-1'))).toMatchObject({ fingerprint: 'f1' });
    });

    it('rolls back with its transaction and is pruned by age', async () => {
      await migrateBase(store());
      await expect(
        store().write(async (tx) => {
          await tx.putOp({ opId: 'lost', fingerprint: 'f', result: 1 });
          throw new Error('no');
        }),
      ).rejects.toThrow('no');
      expect(await store().read((tx) => tx.getOp('lost'))).toBeNull();
      await store().write((tx) => tx.putOp({ opId: 'kept', fingerprint: 'f', result: 'x' }));
      await store().pruneChanges({ maxAgeMs: 60_000, maxEntries: 10 });
      expect(await store().read((tx) => tx.getOp('kept'))).not.toBeNull();
      await store().pruneChanges({ maxAgeMs: 60_000, maxEntries: 10 }, Date.now() + 120_000);
      expect(await store().read((tx) => tx.getOp('kept'))).toBeNull();
    });
  });
}
