import { describe, expect, it } from 'vitest';
import type { ClientStorage, OutboxEntry } from '../src/index.js';

const entry = (order: number, key = `k${order}`): OutboxEntry => ({
  key,
  order,
  write: { kind: 'insert', entity: 'Todo', id: `t${order}`, data: { id: `t${order}`, title: `#${order}` } },
});

/** The suite every storage passes: memory, file, IndexedDB. `make` opens the same store again when called twice with `reopen`. */
export function storageCases(name: string, make: (reopen: boolean) => Promise<ClientStorage>, durable: boolean): void {
  describe(`${name} storage`, () => {
    it('gives entries back in queue order, whatever order they were stored in', async () => {
      const s = await make(false);
      await s.putEntry(entry(3));
      await s.putEntry(entry(1));
      await s.putEntry(entry(2));
      expect((await s.loadOutbox()).map((e) => e.order)).toEqual([1, 2, 3]);
      await s.deleteEntry('k2');
      expect((await s.loadOutbox()).map((e) => e.key)).toEqual(['k1', 'k3']);
      await s.close();
    });

    it('keeps named values, and clears everything', async () => {
      const s = await make(false);
      await s.setMeta('owner', 'ann');
      await s.setMeta('nothing', null);
      expect(await s.getMeta('owner')).toBe('ann');
      expect(await s.getMeta('nothing')).toBeNull();
      expect(await s.getMeta('absent')).toBeUndefined();
      await s.putEntry(entry(1));
      await s.clear();
      expect(await s.loadOutbox()).toEqual([]);
      expect(await s.getMeta('owner')).toBeUndefined();
      await s.close();
    });

    it(durable ? 'survives being closed and opened again' : 'is not durable', async () => {
      const s = await make(false);
      await s.putEntry(entry(7, 'op-7'));
      await s.setMeta('owner', 'bob');
      await s.close();
      const again = await make(true);
      expect((await again.loadOutbox()).map((e) => e.key)).toEqual(durable ? ['op-7'] : []);
      expect(await again.getMeta('owner')).toBe(durable ? 'bob' : undefined);
      expect(again.kind === 'memory').toBe(!durable);
      await again.close();
    });
  });
}
