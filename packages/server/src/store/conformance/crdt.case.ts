import { describe, expect, it } from 'vitest';
import type { CrdtRecord } from '../store.js';
import type { StoreRef } from './fixtures.js';

function record(rowId: string, snapshot: number[], updatedAt = 1_000): CrdtRecord {
  return { entity: 'Item', rowId, snapshot: Uint8Array.from(snapshot), version: Uint8Array.from([snapshot.length]), updatedAt };
}

/** The CRDT sidecar: stored per (entity, row) in the write transaction, replaced, deleted, rolled back. */
export function crdtCases(store: StoreRef): void {
  describe('crdt sidecar', () => {
    it('stores, reads back (inside and outside the transaction), replaces and deletes a document', async () => {
      await store().write(async (tx) => {
        await tx.putCrdt(record('a', [1, 2, 3]));
        expect(await tx.getCrdt('Item', 'a')).toEqual(record('a', [1, 2, 3]));
      });
      expect(await store().crdt.get('Item', 'a')).toEqual(record('a', [1, 2, 3]));
      expect(await store().crdt.get('Item', 'b')).toBeNull();
      expect(await store().crdt.get('Other', 'a')).toBeNull();
      await store().write((tx) => tx.putCrdt(record('a', [9, 0, 255, 7], 2_000)));
      expect(await store().crdt.get('Item', 'a')).toEqual(record('a', [9, 0, 255, 7], 2_000));
      expect(await store().write((tx) => tx.deleteCrdt('Item', 'a'))).toBe(true);
      expect(await store().write((tx) => tx.deleteCrdt('Item', 'a'))).toBe(false);
      expect(await store().crdt.get('Item', 'a')).toBeNull();
    });

    it('keeps entities apart and rolls back with the transaction', async () => {
      await store().write(async (tx) => {
        await tx.putCrdt(record('a', [1]));
        await tx.putCrdt({ ...record('a', [2]), entity: 'Other' });
      });
      await expect(
        store().write(async (tx) => {
          await tx.putCrdt(record('a', [5, 5]));
          await tx.deleteCrdt('Other', 'a');
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect((await store().crdt.get('Item', 'a'))?.snapshot).toEqual(Uint8Array.from([1]));
      expect((await store().crdt.get('Other', 'a'))?.snapshot).toEqual(Uint8Array.from([2]));
    });

    it('round-trips an empty and a large snapshot byte for byte', async () => {
      const large = Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff);
      await store().write(async (tx) => {
        await tx.putCrdt(record('empty', []));
        await tx.putCrdt(record('large', large));
      });
      expect((await store().crdt.get('Item', 'empty'))?.snapshot).toEqual(new Uint8Array(0));
      expect((await store().crdt.get('Item', 'large'))?.snapshot).toEqual(Uint8Array.from(large));
    });
  });
}
