import { describe, expect, it } from 'vitest';
import type { ManifestEntity, MigrationStep } from '@mast/schema';
import { expectAppError, item, itemEntity, migrateBase, schemaOf, userEntity, type StoreRef } from './fixtures.js';

const plan = (...steps: MigrationStep[]) => ({ steps, destructive: steps.some((s) => ['dropColumn', 'changeType', 'dropTable'].includes(s.kind)) });

function withItem(change: (e: ManifestEntity) => ManifestEntity): ManifestEntity[] {
  return [change(structuredClone(itemEntity)), userEntity];
}

/** Migrations: every step kind on tables with rows, atomicity, recorded schema, introspection. */
export function migrationCases(store: StoreRef): void {
  describe('migrations', () => {
    it('records the schema it applied', async () => {
      expect(await store().recordedSchema()).toBeNull();
      const schema = await migrateBase(store());
      const recorded = await store().recordedSchema();
      expect(recorded?.manifest).toEqual(schema.manifest);
      expect(new Date(recorded!.appliedAt).toISOString()).toBe(recorded!.appliedAt);
    });

    it('introspects user tables and their columns, not its own', async () => {
      await migrateBase(store());
      const tables = await store().introspect();
      expect([...tables.keys()].sort()).toEqual(['Item', 'User']);
      expect([...tables.get('Item')!].sort()).toEqual(['id', ...itemEntity.fields.map((f) => f.name)].sort());
      expect(tables.get('User')).toEqual(['id', 'name']);
    });

    it('adds a column to a table with rows', async () => {
      await migrateBase(store());
      await store().write((tx) => tx.insert('Item', item('a', { count: 1 })));
      const v2 = schemaOf(withItem((e) => ({ ...e, fields: [...e.fields, { name: 'extra', type: 'int', optional: true, unique: true }] })));
      await store().migrate(plan({ kind: 'addColumn', entity: 'Item', field: v2.entitiesByName.get('Item')!.fieldsByName.get('extra')! }), v2);
      expect(await store().read((tx) => tx.get('Item', 'a'))).toMatchObject({ count: 1, extra: null });
      await store().write((tx) => tx.update('Item', 'a', { extra: 5 }));
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('b', { extra: 5 }))),
        'UNIQUE_VIOLATION',
        ['extra'],
      );
      expect((await store().recordedSchema())?.manifest).toEqual(v2.manifest);
    });

    it('creates and drops indexes', async () => {
      const base = await migrateBase(store());
      const index = { name: 'by_name', fields: ['name'], unique: true };
      const v2 = schemaOf(withItem((e) => ({ ...e, indexes: [...e.indexes, index] })));
      await store().migrate(plan({ kind: 'createIndex', entity: 'Item', index }), v2);
      await store().write((tx) => tx.insert('Item', item('a', { name: 'same' })));
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('b', { name: 'same' }))),
        'UNIQUE_VIOLATION',
        ['name'],
      );
      await store().migrate(plan({ kind: 'dropIndex', entity: 'Item', index }), base);
      await store().write((tx) => tx.insert('Item', item('b', { name: 'same' })));
      const ownerSlug = itemEntity.indexes[0]!;
      await store().migrate(plan({ kind: 'dropIndex', entity: 'Item', index: ownerSlug }), base);
      await store().write(async (tx) => {
        await tx.insert('Item', item('c', { owner: 'u', slug: 's' }));
        await tx.insert('Item', item('d', { owner: 'u', slug: 's' }));
      });
    });

    it('a unique index over duplicate data fails and leaves nothing behind', async () => {
      const base = await migrateBase(store());
      await store().write(async (tx) => {
        await tx.insert('Item', item('a', { title: 'dup' }));
        await tx.insert('Item', item('b', { title: 'dup' }));
      });
      const index = { name: 'by_title', fields: ['title'], unique: true };
      const v2 = schemaOf(withItem((e) => ({ ...e, indexes: [...e.indexes, index] })));
      await expect(store().migrate(plan({ kind: 'createIndex', entity: 'Item', index }), v2)).rejects.toThrow();
      expect((await store().recordedSchema())?.manifest).toEqual(base.manifest);
      await store().write((tx) => tx.insert('Item', item('c', { title: 'dup' })));
    });

    it('drops a column (even one with a unique index) and keeps the other data', async () => {
      await migrateBase(store());
      await store().write((tx) => tx.insert('Item', item('a', { code: 'X', count: 4 })));
      const v2 = schemaOf(withItem((e) => ({ ...e, fields: e.fields.filter((f) => f.name !== 'code') })));
      await store().migrate(plan({ kind: 'dropColumn', entity: 'Item', field: 'code' }), v2);
      expect((await store().introspect()).get('Item')).not.toContain('code');
      const row = await store().read((tx) => tx.get('Item', 'a'));
      expect(row).toMatchObject({ id: 'a', count: 4 });
      expect(row).not.toHaveProperty('code');
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('b', { code: 'X' }))),
        'INVALID_COLUMN',
        ['code'],
      );
    });

    it('renames a column (even one with a unique index), keeping its values, and drops the stored documents of a crdt entity', async () => {
      await migrateBase(store());
      const doc = { entity: 'Item', rowId: 'a', snapshot: new Uint8Array([1, 2]), version: new Uint8Array([3]), updatedAt: 1_000 };
      await store().write(async (tx) => {
        await tx.insert('Item', item('a', { code: 'X', count: 4 }));
        await tx.putCrdt(doc);
        await tx.putCrdt({ ...doc, entity: 'User' });
      });
      const v2 = schemaOf(withItem((e) => ({ ...e, crdt: true, fields: e.fields.map((f) => (f.name === 'code' ? { ...f, name: 'label', renamedFrom: 'code' } : f)) })));
      await store().migrate(
        plan(
          { kind: 'renameColumn', entity: 'Item', from: 'code', field: v2.entitiesByName.get('Item')!.fieldsByName.get('label')! },
          { kind: 'dropIndex', entity: 'Item', index: { name: 'code__unique', fields: ['code'], unique: true } },
          { kind: 'createIndex', entity: 'Item', index: { name: 'label__unique', fields: ['label'], unique: true } },
        ),
        v2,
      );
      const columns = (await store().introspect()).get('Item');
      expect(columns).toContain('label');
      expect(columns).not.toContain('code');
      expect(await store().read((tx) => tx.get('Item', 'a'))).toMatchObject({ id: 'a', label: 'X', count: 4 });
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('b', { label: 'X' }))),
        'UNIQUE_VIOLATION',
        ['label'],
      );
      expect(await store().crdt.get('Item', 'a')).toBeNull();
      expect(await store().crdt.get('User', 'a')).not.toBeNull();
    });

    it('changes a column type, converting what converts and nulling what does not', async () => {
      const base = await migrateBase(store());
      await store().write(async (tx) => {
        await tx.insert('Item', item('a', { count: 3, slug: '42' }));
        await tx.insert('Item', item('b', { count: -7, slug: 'abc', code: 'K' }));
        await tx.insert('Item', item('c'));
      });
      const from = base.entitiesByName.get('Item')!.fieldsByName;
      const v2 = schemaOf(
        withItem((e) => ({
          ...e,
          fields: e.fields.map((f) => (f.name === 'count' ? { ...f, type: 'string' as const } : f.name === 'slug' ? { ...f, type: 'int' as const } : f)),
        })),
      );
      const to = v2.entitiesByName.get('Item')!.fieldsByName;
      await store().migrate(
        plan(
          { kind: 'changeType', entity: 'Item', from: from.get('count')!, to: to.get('count')! },
          { kind: 'changeType', entity: 'Item', from: from.get('slug')!, to: to.get('slug')! },
        ),
        v2,
      );
      const rows = await store().read((tx) => tx.find('Item', {}));
      expect(rows.map((r) => [r.id, r['count'], r['slug'], r['code']])).toEqual([
        ['a', '3', 42, null],
        ['b', '-7', null, 'K'],
        ['c', null, null, null],
      ]);
      const byText = await store().read((tx) => tx.find('Item', { where: { kind: 'compare', field: 'count', op: 'eq', value: '3' } }));
      expect(byText.map((r) => r.id)).toEqual(['a']);
      // The composite unique index on (owner, slug) is back after the rebuild.
      await store().write((tx) => tx.insert('Item', item('d', { owner: 'u', slug: 1 })));
      await expectAppError(
        store().write((tx) => tx.insert('Item', item('e', { owner: 'u', slug: 1 }))),
        'UNIQUE_VIOLATION',
        ['owner', 'slug'],
      );
    });

    it('drops a table', async () => {
      await migrateBase(store());
      await store().write((tx) => tx.insert('User', { id: 'u', name: 'Ann' }));
      const v2 = schemaOf([itemEntity]);
      await store().migrate(plan({ kind: 'dropTable', entity: 'User' }), v2);
      expect([...(await store().introspect()).keys()]).toEqual(['Item']);
      await expectAppError(
        store().read((tx) => tx.get('User', 'u')),
        'ENTITY_NOT_FOUND',
      );
    });

    it('refuses to make a column with NULLs required, and rolls the whole plan back', async () => {
      const base = await migrateBase(store());
      await store().write(async (tx) => {
        await tx.insert('Item', item('a', { title: 'has one' }));
        await tx.insert('Item', item('b'));
        await tx.insert('Item', item('c'));
      });
      const title = { ...base.entitiesByName.get('Item')!.fieldsByName.get('title')!, optional: false };
      const v2 = schemaOf(withItem((e) => ({ ...e, fields: e.fields.map((f) => (f.name === 'title' ? { ...f, optional: false } : f)) })));
      const extra = schemaOf([{ name: 'Extra', fields: [], indexes: [] }]).entities[0]!;
      await expect(
        store().migrate(
          plan({ kind: 'createTable', entity: extra }, { kind: 'noteChange', entity: 'Item', detail: 'x' }, { kind: 'requireColumn', entity: 'Item', field: title }),
          v2,
        ),
      ).rejects.toThrow('cannot make Item.title required: 2 rows have no value');
      expect([...(await store().introspect()).keys()].sort()).toEqual(['Item', 'User']);
      expect((await store().recordedSchema())?.manifest).toEqual(base.manifest);
      await store().write(async (tx) => {
        await tx.update('Item', 'b', { title: 'now' });
        await tx.update('Item', 'c', { title: 'too' });
      });
      await store().migrate(plan({ kind: 'requireColumn', entity: 'Item', field: title }), v2);
      expect((await store().recordedSchema())?.manifest).toEqual(v2.manifest);
    });

    it('reports a size', async () => {
      await migrateBase(store());
      expect(await store().sizeBytes()).toBeGreaterThan(0);
    });
  });
}
