import { compileManifest } from '@mast/schema';
import { createSqliteStore, migrateStore, type Row } from '@mast/server';

const CHUNK = 1000;

/**
 * Creates a SQLite file migrated to `manifest` and fills `entity` with `count` rows from `rowAt`,
 * each with its change-log entry as the write path would append it. Returns the ids in order.
 */
export async function seedDatabase(path: string, manifest: unknown, entity: string, count: number, rowAt: (index: number) => Row): Promise<string[]> {
  const store = createSqliteStore({ path });
  try {
    await migrateStore(store, compileManifest(manifest), { allowDestructive: false });
    const ids: string[] = [];
    for (let start = 0; start < count; start += CHUNK) {
      await store.write(async (tx) => {
        for (let i = start; i < Math.min(count, start + CHUNK); i++) {
          const row = await tx.insert(entity, rowAt(i));
          await tx.appendChange({ entity, rowId: row.id, kind: 'insert', data: row, opId: null });
          ids.push(row.id);
        }
      });
    }
    return ids;
  } finally {
    await store.close();
  }
}
