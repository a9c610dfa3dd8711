import { declaredIndexName, indexesOf, uniqueIndexName } from '@mast/schema';
import type { AppSchema, EntitySchema, FieldSchema, ManifestIndex, MigrationPlan, MigrationStep } from '@mast/schema';
import { sqlIndexColumns } from '../sql/compile-filter.js';
import { convertValue } from '../sql/convert-value.js';
import { decodeCell, encodeCell } from '../sql/row-codec.js';
import { writeRecordedSchema } from './pg-changes.js';
import type { PgConnection } from './pg-connection.js';
import { pgDialect as dialect } from './pg-dialect.js';
import { DDL_LOCK } from './pg-tables.js';

const q = (name: string): string => dialect.quoteIdent(name);

/** Creates an index given under its table index name (`<Entity>__...`), if it is missing. */
async function createIndex(conn: PgConnection, entity: string, index: ManifestIndex): Promise<void> {
  await conn.exec(`CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${q(index.name)} ON ${q(entity)} (${sqlIndexColumns(index).map(q).join(', ')})`);
}

async function createTable(conn: PgConnection, entity: EntitySchema): Promise<void> {
  const columns = [`"id" ${dialect.columnType('id')} PRIMARY KEY`, ...entity.fields.map((f) => `${q(f.name)} ${dialect.columnType(f.kind)}`)];
  await conn.exec(`CREATE TABLE IF NOT EXISTS ${q(entity.name)} (${columns.join(', ')})`);
  for (const index of indexesOf(entity)) await createIndex(conn, entity.name, index);
}

/**
 * Rebuilds a column with a new type: a temporary column receives each row's value converted by
 * `convertValue` (the same conversion SQLite runs through its SQL function), the old column
 * goes (its indexes with it), the new one takes its name, and the target schema's indexes on it
 * come back. Rows are converted in id order in batches, inside the migration's transaction.
 */
async function changeType(conn: PgConnection, table: string, from: FieldSchema, to: FieldSchema, schema: AppSchema): Promise<void> {
  const temp = `__mast_tmp_${to.name}`;
  await conn.exec(`ALTER TABLE ${q(table)} ADD COLUMN ${q(temp)} ${dialect.columnType(to.kind)}`);
  const BATCH = 1000;
  let after: string | null = null;
  for (;;) {
    const rows: Array<Record<string, unknown>> = await conn.exec(
      `SELECT "id", ${q(from.name)} AS v FROM ${q(table)}${after === null ? '' : ' WHERE "id" > $2'} ORDER BY "id" LIMIT $1`,
      after === null ? [BATCH] : [BATCH, after],
    );
    for (const row of rows) {
      const value = convertValue(decodeCell(dialect.cells, from.kind, row['v']), from.kind, to.kind);
      const cell = encodeCell(dialect.cells, to.kind, value, { entity: table, field: to.name });
      if (cell !== null) await conn.exec(`UPDATE ${q(table)} SET ${q(temp)} = $1 WHERE "id" = $2`, [cell, row['id']]);
    }
    if (rows.length < BATCH) break;
    after = String(rows[rows.length - 1]!['id']);
  }
  await conn.exec(`ALTER TABLE ${q(table)} DROP COLUMN ${q(from.name)}`);
  await conn.exec(`ALTER TABLE ${q(table)} RENAME COLUMN ${q(temp)} TO ${q(to.name)}`);
  const entity = schema.entitiesByName.get(table);
  for (const index of entity ? indexesOf(entity) : []) {
    if (index.fields.includes(to.name)) await createIndex(conn, table, index);
  }
}

async function requireColumn(conn: PgConnection, table: string, field: string): Promise<void> {
  const missing = Number((await conn.exec(`SELECT COUNT(*) AS n FROM ${q(table)} WHERE ${q(field)} IS NULL`))[0]?.['n'] ?? 0);
  if (missing > 0) {
    // A start-up failure for the operator, not an HTTP error: a plain Error with the numbers.
    throw new Error(`cannot make ${table}.${field} required: ${missing} ${missing === 1 ? 'row has' : 'rows have'} no value`);
  }
}

async function applyStep(conn: PgConnection, step: MigrationStep, schema: AppSchema): Promise<void> {
  switch (step.kind) {
    case 'createTable':
      return createTable(conn, step.entity);
    case 'renameColumn':
      // Indexes follow the column; the plan drops and recreates the ones named after it.
      await conn.exec(`ALTER TABLE ${q(step.entity)} RENAME COLUMN ${q(step.from)} TO ${q(step.field.name)}`);
      // Stored documents keep values under field names; seeded again from the row on next use.
      if (schema.entitiesByName.get(step.entity)?.crdt === true) await conn.run('DELETE FROM _mast_crdt WHERE entity = ?', [step.entity]);
      return;
    case 'addColumn':
      await conn.exec(`ALTER TABLE ${q(step.entity)} ADD COLUMN ${q(step.field.name)} ${dialect.columnType(step.field.kind)}`);
      if (step.field.unique) {
        await createIndex(conn, step.entity, { name: uniqueIndexName(step.entity, step.field.name), fields: [step.field.name], unique: true });
      }
      return;
    case 'createIndex':
      // Steps carry entity-relative names (`by_owner`, `title__unique`).
      return createIndex(conn, step.entity, { ...step.index, name: declaredIndexName(step.entity, step.index.name) });
    case 'dropIndex':
      await conn.exec(`DROP INDEX IF EXISTS ${q(declaredIndexName(step.entity, step.index.name))}`);
      return;
    case 'requireColumn':
      return requireColumn(conn, step.entity, step.field.name);
    case 'noteChange':
      return;
    case 'dropColumn':
      // PostgreSQL drops the indexes on the column with it.
      await conn.exec(`ALTER TABLE ${q(step.entity)} DROP COLUMN IF EXISTS ${q(step.field)}`);
      return;
    case 'changeType':
      return changeType(conn, step.entity, step.from, step.to, schema);
    case 'dropTable':
      await conn.exec(`DROP TABLE IF EXISTS ${q(step.entity)}`);
      return;
  }
}

/**
 * Applies every step of `plan` and records `schema`, on a connection already inside a write
 * transaction. PostgreSQL DDL is transactional, so a failing step undoes all of them; the DDL
 * advisory lock makes nodes that start together migrate one after the other.
 */
export async function applyMigration(conn: PgConnection, plan: MigrationPlan, schema: AppSchema, appliedAt: string): Promise<void> {
  await conn.exec('SELECT pg_advisory_xact_lock($1, $2)', [...DDL_LOCK]);
  for (const step of plan.steps) await applyStep(conn, step, schema);
  await writeRecordedSchema(conn, { manifest: schema.manifest, appliedAt });
}
