import { describe, expect, it } from 'vitest';
import type { Row } from '../store.js';
import { expectAppError, item, migrateBase, type StoreRef } from './fixtures.js';

/** Row CRUD, value round-trips and input that looks like SQL. */
export function crudCases(store: StoreRef): void {
  describe('rows', () => {
    it('insert returns the row with every declared field, unset ones null', async () => {
      await migrateBase(store());
      const row = await store().write((tx) => tx.insert('Item', { id: 'a', name: 'apple', count: 3 }));
      expect(row).toEqual({
        id: 'a',
        name: 'apple',
        title: null,
        count: 3,
        price: null,
        done: null,
        meta: null,
        due: null,
        body: null,
        owner: null,
        slug: null,
        code: null,
      });
      expect(await store().read((tx) => tx.get('Item', 'a'))).toEqual(row);
      expect(await store().read((tx) => tx.get('Item', 'nope'))).toBeNull();
    });

    it('update applies a patch, leaves other fields, and answers null for a missing id', async () => {
      await migrateBase(store());
      await store().write((tx) => tx.insert('Item', item('a', { title: 't', count: 1 })));
      const after = await store().write((tx) => tx.update('Item', 'a', { count: 2, title: null }));
      expect(after).toMatchObject({ id: 'a', name: 'a', title: null, count: 2 });
      expect(await store().read((tx) => tx.get('Item', 'a'))).toEqual(after);
      expect(await store().write((tx) => tx.update('Item', 'missing', { count: 1 }))).toBeNull();
      expect(await store().write((tx) => tx.update('Item', 'a', {}))).toEqual(after);
      await expectAppError(
        store().write((tx) => tx.update('Item', 'a', { id: 'b' })),
        'IMMUTABLE_FIELD',
        ['id'],
      );
    });

    it('delete returns the row as it was, then null', async () => {
      await migrateBase(store());
      await store().write((tx) => tx.insert('Item', item('a', { count: 7 })));
      const gone = await store().write((tx) => tx.delete('Item', 'a'));
      expect(gone).toMatchObject({ id: 'a', count: 7 });
      expect(await store().write((tx) => tx.delete('Item', 'a'))).toBeNull();
      expect(await store().read((tx) => tx.get('Item', 'a'))).toBeNull();
      expect(await store().read((tx) => tx.count('Item'))).toBe(0);
    });

    it('refuses unknown entities, unknown fields and wrongly typed values', async () => {
      await migrateBase(store());
      await expectAppError(
        store().read((tx) => tx.get('Nope', 'a')),
        'ENTITY_NOT_FOUND',
      );
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('a', { colour: 'red' }))),
        'INVALID_COLUMN',
        ['colour'],
      );
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('a', { count: 'x' }))),
        'INVALID_FIELD_TYPE',
        ['count'],
      );
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('a', { count: 1.5 }))),
        'INVALID_FIELD_TYPE',
        ['count'],
      );
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('a', { done: 1 }))),
        'INVALID_FIELD_TYPE',
        ['done'],
      );
      await expectAppError(
        store().write((tx) => tx.update('Item', 'a', { colour: 'red' })),
        'INVALID_COLUMN',
        ['colour'],
      );
      expect(await store().read((tx) => tx.count('Item'))).toBe(0);
    });
  });

  describe('values round-trip', () => {
    async function roundTrip(fields: Record<string, unknown>): Promise<Row> {
      await store().write((tx) => tx.insert('Item', item('r', fields)));
      const row = await store().read((tx) => tx.get('Item', 'r'));
      await store().write((tx) => tx.delete('Item', 'r'));
      return row!;
    }

    it('bools come back as booleans', async () => {
      await migrateBase(store());
      expect((await roundTrip({ done: true }))['done']).toBe(true);
      expect((await roundTrip({ done: false }))['done']).toBe(false);
      expect((await roundTrip({ done: null }))['done']).toBeNull();
    });

    it('json comes back as the same JSON value', async () => {
      await migrateBase(store());
      const values: unknown[] = [{ a: 1, nested: { list: [1, 'two', { three: 3 }], flag: false, none: null } }, [1, 2, [3]], [], {}, 42, -0.5, 'a string', true, false];
      for (const meta of values) expect((await roundTrip({ meta }))['meta']).toEqual(meta);
    });

    it('ints up to ±(2^53 - 1), floats and datetimes are exact', async () => {
      await migrateBase(store());
      for (const count of [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0, -1]) {
        expect((await roundTrip({ count }))['count']).toBe(count);
      }
      for (const price of [0.1, -1e-9, 1.7976931348623157e308, 3]) expect((await roundTrip({ price }))['price']).toBe(price);
      expect((await roundTrip({ due: '2024-02-29T23:59:59.999Z' }))['due']).toBe('2024-02-29T23:59:59.999Z');
    });

    it('unicode text is stored verbatim and matched exactly', async () => {
      await migrateBase(store());
      const text = '日本語 ✓ ñ é 😀 𝄞 "quoted" \\ back\nslash\ttab';
      expect((await roundTrip({ title: text, body: text }))['title']).toBe(text);
      await store().write((tx) => tx.insert('Item', item('u', { title: text })));
      const found = await store().read((tx) => tx.find('Item', { where: { kind: 'compare', field: 'title', op: 'eq', value: text } }));
      expect(found.map((r) => r.id)).toEqual(['u']);
    });

    it('SQL-looking strings are data, in values, ids, filters and like patterns', async () => {
      await migrateBase(store());
      const nasty = [`'; DROP TABLE "Item"; --`, `Robert'); DROP TABLE Item;--`, `" OR 1=1 --`, `$1 ? :name @p ?1`];
      for (const [i, value] of nasty.entries()) {
        await store().write((tx) => tx.insert('Item', item(`${value}#${i}`, { title: value, meta: { value } })));
      }
      for (const [i, value] of nasty.entries()) {
        const row = await store().read((tx) => tx.get('Item', `${value}#${i}`));
        expect(row).toMatchObject({ title: value, meta: { value } });
        const byEq = await store().read((tx) => tx.find('Item', { where: { kind: 'compare', field: 'title', op: 'eq', value } }));
        expect(byEq.map((r) => r.id)).toEqual([`${value}#${i}`]);
      }
      const byLike = await store().read((tx) => tx.find('Item', { where: { kind: 'like', field: 'title', pattern: `%DROP TABLE "Item"%`, caseInsensitive: false } }));
      expect(byLike).toHaveLength(1);
      expect(await store().read((tx) => tx.count('Item'))).toBe(nasty.length);
    });
  });
}
