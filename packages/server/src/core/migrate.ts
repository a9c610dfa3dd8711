import { type AppSchema, describePlan, diffSchemas, resolveSchema } from '@mast/schema';
import type { Store } from '../store/index.js';

/** Raised when the database cannot be brought to the schema without losing data. */
export class MigrationRefusedError extends Error {
  constructor(readonly plan: readonly string[]) {
    super(
      'The schema change would lose data; nothing was changed. Plan:\n' +
        plan.map((line) => `  ${line}`).join('\n') +
        '\nRun `mast migrate --allow-destructive` (or set MAST_ALLOW_DESTRUCTIVE=1) to apply it.',
    );
    this.name = 'MigrationRefusedError';
  }
}

/**
 * Brings the store's tables to `schema`: diffs against the recorded schema (or the live tables
 * of a database Mast never migrated), refuses destructive steps unless allowed, applies the
 * rest in one transaction. Returns the plan's lines.
 */
export async function migrateStore(store: Store, schema: AppSchema, options: { allowDestructive: boolean; dryRun?: boolean }): Promise<string[]> {
  const recorded = await store.recordedSchema();
  const previous = recorded ? resolveSchema(recorded.manifest) : null;
  const plan = diffSchemas(previous, schema, previous ? undefined : await store.introspect());
  const lines = describePlan(plan);
  if (options.dryRun) return lines;
  if (plan.destructive && !options.allowDestructive) throw new MigrationRefusedError(lines);
  await store.migrate(plan, schema);
  store.useSchema(schema);
  return lines;
}
