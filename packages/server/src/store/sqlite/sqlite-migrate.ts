import { declaredIndexName, indexesOf, uniqueIndexName } from '@mast/schema';
import type { AppSchema, EntitySchema, FieldSchema, ManifestIndex, MigrationPlan, MigrationStep } from '@mast/schema';
import { writeRecordedSchema } from './sqlite-changes.js';
import { CONVERT_FUNCTION, type SqliteConnection } from './sqlite-connection.js';
import { sqliteDialect as dialect } from './sqlite-dialect.js';
import { sqlIndexColumns } from '../sql/compile-filter.js';

const q = (name: string): string => dialect.quoteIdent(name);

/** Creates an index given under its table index name (`<Entity>__...`), if it is missing. */
function createIndex(conn: SqliteConnection, entity: string, index: ManifestIndex): void {
  conn.exec(`CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${q(index.name)} ON ${q(entity)} (${sqlIndexColumns(index).map(q).join(', ')})`);
}

/** Names of the explicitly created indexes (not SQLite's automatic ones) that cover `column`. */
function indexesOnColumn(conn: SqliteConnection, table: string, column: string): string[] {
  return conn
    .all(
      `SELECT DISTINCT il.name AS name FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii
       WHERE il.origin = 'c' AND ii.name = ?`,
      [table, column],
    )
    .map((cells) => String(cells['name']));
}

function dropColumn(conn: SqliteConnection, table: string, column: string): void {
  // SQLite refuses DROP COLUMN while an index uses the column.
  for (const name of indexesOnColumn(conn, table, column)) conn.exec(`DROP INDEX IF EXISTS ${q(name)}`);
  conn.exec(`ALTER TABLE ${q(table)} DROP COLUMN ${q(column)}`);
}

function createTable(conn: SqliteConnection, entity: EntitySchema): void {
  const columns = [`"id" TEXT PRIMARY KEY NOT NULL`, ...entity.fields.map((f) => `${q(f.name)} ${dialect.columnType(f.kind)}`)];
  conn.exec(`CREATE TABLE IF NOT EXISTS ${q(entity.name)} (${columns.join(', ')})`);
  for (const index of indexesOf(entity)) createIndex(conn, entity.name, index);
}

/**
 * Rebuilds a column with a new type: a temporary column receives the converted values
 * (`convertValue`, via the `mast_convert` SQL function), the old column goes, the new one takes
 * its name, and the target schema's indexes on it come back.
 */
function changeType(conn: SqliteConnection, table: string, from: FieldSchema, to: FieldSchema, schema: AppSchema): void {
  const temp = `__mast_tmp_${to.name}`;
  conn.exec(`ALTER TABLE ${q(table)} ADD COLUMN ${q(temp)} ${dialect.columnType(to.kind)}`);
  conn.run(`UPDATE ${q(table)} SET ${q(temp)} = ${CONVERT_FUNCTION}(${q(from.name)}, ?, ?)`, [from.kind, to.kind]);
  dropColumn(conn, table, from.name);
  conn.exec(`ALTER TABLE ${q(table)} RENAME COLUMN ${q(temp)} TO ${q(to.name)}`);
  const entity = schema.entitiesByName.get(table);
  for (const index of entity ? indexesOf(entity) : []) {
    if (index.fields.includes(to.name)) createIndex(conn, table, index);
  }
}

function requireColumn(conn: SqliteConnection, table: string, field: string): void {
  const missing = Number(conn.get(`SELECT COUNT(*) AS n FROM ${q(table)} WHERE ${q(field)} IS NULL`)?.['n'] ?? 0);
  if (missing > 0) {
    // A start-up failure for the operator, not an HTTP error: a plain Error with the numbers.
    throw new Error(`cannot make ${table}.${field} required: ${missing} ${missing === 1 ? 'row has' : 'rows have'} no value`);
  }
}

function applyStep(conn: SqliteConnection, step: MigrationStep, schema: AppSchema): void {
  switch (step.kind) {
    case 'createTable':
      return createTable(conn, step.entity);
    case 'renameColumn':
      conn.exec(`ALTER TABLE ${q(step.entity)} RENAME COLUMN ${q(step.from)} TO ${q(step.field.name)}`);
      // Stored documents keep values under field names; seeded again from the row on next use.
      if (schema.entitiesByName.get(step.entity)?.crdt === true) conn.run('DELETE FROM _mast_crdt WHERE entity = ?', [step.entity]);
      return;
    case 'addColumn':
      conn.exec(`ALTER TABLE ${q(step.entity)} ADD COLUMN ${q(step.field.name)} ${dialect.columnType(step.field.kind)}`);
      if (step.field.unique) {
        createIndex(conn, step.entity, { name: uniqueIndexName(step.entity, step.field.name), fields: [step.field.name], unique: true });
      }
      return;
    case 'createIndex':
      // Steps carry entity-relative names (`by_owner`, `title__unique`).
      return createIndex(conn, step.entity, { ...step.index, name: declaredIndexName(step.entity, step.index.name) });
    case 'dropIndex':
      return conn.exec(`DROP INDEX IF EXISTS ${q(declaredIndexName(step.entity, step.index.name))}`);
    case 'requireColumn':
      return requireColumn(conn, step.entity, step.field.name);
    case 'noteChange':
      return;
    case 'dropColumn':
      return dropColumn(conn, step.entity, step.field);
    case 'changeType':
      return changeType(conn, step.entity, step.from, step.to, schema);
    case 'dropTable':
      return conn.exec(`DROP TABLE IF EXISTS ${q(step.entity)}`);
  }
}

/**
 * Applies every step of `plan` and records `schema`, on a connection that is already inside a
 * write transaction (SQLite DDL is transactional, so a failing step undoes all of them).
 */
export function applyMigration(conn: SqliteConnection, plan: MigrationPlan, schema: AppSchema, appliedAt: string): void {
  for (const step of plan.steps) applyStep(conn, step, schema);
  writeRecordedSchema(conn, { manifest: schema.manifest, appliedAt });
}
