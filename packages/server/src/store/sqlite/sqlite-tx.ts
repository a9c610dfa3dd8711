import type { AppSchema, EntitySchema } from '@mast/schema';
import { errors, storeErrors } from '../../errors/index.js';
import type { FilterNode, FindQuery } from '@mast/schema';
import { compileFilter, compileFind } from '../sql/compile-filter.js';
import { decodeRow, encodeFields } from '../sql/row-codec.js';
import { SqlParams } from '../sql/sql-dialect.js';
import { uniqueViolation } from '../sql/unique-violation.js';
import type { AuthReads, AuthWrites, ChangeRecord, CrdtRecord, JobOwner, NewChange, NewJob, OpRecord, ReadTx, Row, WriteTx } from '../store.js';
import { SqliteAuth } from './sqlite-auth.js';
import * as log from './sqlite-changes.js';
import * as crdt from './sqlite-crdt.js';
import * as jobs from './sqlite-jobs.js';
import { isSqliteError, type Cells, type SqliteConnection } from './sqlite-connection.js';
import { sqliteDialect as dialect } from './sqlite-dialect.js';

const q = (name: string): string => dialect.quoteIdent(name);
const selectLists = new WeakMap<EntitySchema, string>();

/** `"id", "a", "b"` for an entity, memoised per (frozen) entity schema. */
function selectList(entity: EntitySchema): string {
  let list = selectLists.get(entity);
  if (list === undefined) {
    list = ['id', ...entity.fields.map((f) => f.name)].map(q).join(', ');
    selectLists.set(entity, list);
  }
  return list;
}

/** Whether a row of `entity` matching `where` exists, read synchronously on `conn`. */
export function rowExistsOn(conn: SqliteConnection, entity: EntitySchema, where: FilterNode, resolve: (name: string) => EntitySchema | undefined): boolean {
  const params = new SqlParams(dialect);
  const clause = compileFilter(where, entity, dialect, params, resolve);
  return Number(conn.get(`SELECT EXISTS (SELECT 1 FROM ${q(entity.name)} WHERE ${clause}) AS e`, params.values)?.['e'] ?? 0) === 1;
}

/** Reads on one connection, valid until the transaction that created it ends. */
export class SqliteReadTx implements ReadTx {
  private open = true;
  readonly auth: AuthReads;

  constructor(
    protected readonly conn: SqliteConnection,
    private readonly schema: () => AppSchema | null,
  ) {
    this.auth = new SqliteAuth(conn, () => this.checkOpen());
  }

  /** Invalidates the handle; later calls throw instead of touching another transaction. */
  finish(): void {
    this.open = false;
  }

  protected entity(name: string): EntitySchema {
    if (!this.open) throw new Error('this store transaction has already finished; use it only inside its callback');
    const schema = this.schema();
    if (!schema) throw new Error('the store has no schema; call migrate() or useSchema() first');
    const entity = schema.entitiesByName.get(name);
    if (!entity) throw errors.unknownEntity(name);
    return entity;
  }

  /** Entities a related filter names, from the schema in force. */
  protected readonly resolve = (name: string): EntitySchema | undefined => this.schema()?.entitiesByName.get(name);

  protected decode(entity: EntitySchema, cells: Cells | undefined): Row | null {
    return cells ? decodeRow(dialect.cells, entity, cells) : null;
  }

  protected checkOpen(): void {
    if (!this.open) throw new Error('this store transaction has already finished; use it only inside its callback');
  }

  async get(entityName: string, id: string): Promise<Row | null> {
    const entity = this.entity(entityName);
    return this.decode(entity, this.conn.get(`SELECT ${selectList(entity)} FROM ${q(entity.name)} WHERE "id" = ?`, [id]));
  }

  async find(entityName: string, query: FindQuery): Promise<Row[]> {
    const entity = this.entity(entityName);
    const params = new SqlParams(dialect);
    const clauses = compileFind(query, entity, dialect, params, this.resolve);
    const rows = this.conn.all(`SELECT ${selectList(entity)} FROM ${q(entity.name)}${clauses.sql}`, params.values);
    return rows.map((cells) => decodeRow(dialect.cells, entity, cells));
  }

  async count(entityName: string, where?: FilterNode): Promise<number> {
    const entity = this.entity(entityName);
    const params = new SqlParams(dialect);
    const clause = where ? ` WHERE ${compileFilter(where, entity, dialect, params, this.resolve)}` : '';
    return Number(this.conn.get(`SELECT COUNT(*) AS n FROM ${q(entity.name)}${clause}`, params.values)?.['n'] ?? 0);
  }

  async getOp(opId: string): Promise<OpRecord | null> {
    this.checkOpen();
    return log.getOp(this.conn, opId);
  }
}

/** Writes on the writer connection, inside the transaction `write()` opened. */
export class SqliteWriteTx extends SqliteReadTx implements WriteTx {
  declare readonly auth: AuthWrites;

  async insert(entityName: string, row: Row): Promise<Row> {
    const entity = this.entity(entityName);
    if (typeof row.id !== 'string' || row.id === '') {
      throw storeErrors.emptyId(entity.name);
    }
    const given = new Map(encodeFields(dialect.cells, entity, row, true));
    const names = ['id', ...entity.fields.map((f) => f.name)];
    const sql = `INSERT INTO ${q(entity.name)} (${selectList(entity)}) VALUES (${names.map(() => '?').join(', ')})` + ` RETURNING ${selectList(entity)}`;
    try {
      return this.decode(
        entity,
        this.conn.get(
          sql,
          names.map((n) => given.get(n) ?? null),
        ),
      )!;
    } catch (err) {
      throw this.uniqueError(err, entity);
    }
  }

  async update(entityName: string, id: string, patch: Record<string, unknown>): Promise<Row | null> {
    const entity = this.entity(entityName);
    if ('id' in patch && patch['id'] !== id) {
      throw storeErrors.idImmutable(entity.name);
    }
    const sets = encodeFields(dialect.cells, entity, patch, false);
    if (sets.length === 0) return this.get(entityName, id);
    const sql = `UPDATE ${q(entity.name)} SET ${sets.map(([name]) => `${q(name)} = ?`).join(', ')} WHERE "id" = ?` + ` RETURNING ${selectList(entity)}`;
    try {
      return this.decode(entity, this.conn.get(sql, [...sets.map(([, cell]) => cell), id]));
    } catch (err) {
      throw this.uniqueError(err, entity);
    }
  }

  async delete(entityName: string, id: string): Promise<Row | null> {
    const entity = this.entity(entityName);
    return this.decode(entity, this.conn.get(`DELETE FROM ${q(entity.name)} WHERE "id" = ? RETURNING ${selectList(entity)}`, [id]));
  }

  async appendChange(change: NewChange): Promise<ChangeRecord> {
    this.checkOpen();
    return log.appendChange(this.conn, change, Date.now());
  }

  async putOp(op: OpRecord): Promise<void> {
    this.checkOpen();
    log.putOp(this.conn, op, Date.now());
  }

  async getCrdt(entity: string, rowId: string): Promise<CrdtRecord | null> {
    this.checkOpen();
    return crdt.getCrdt(this.conn, entity, rowId);
  }

  async putCrdt(record: CrdtRecord): Promise<void> {
    this.checkOpen();
    crdt.putCrdt(this.conn, record);
  }

  async deleteCrdt(entity: string, rowId: string): Promise<boolean> {
    this.checkOpen();
    return crdt.deleteCrdt(this.conn, entity, rowId);
  }

  async enqueueJob(job: NewJob): Promise<void> {
    this.checkOpen();
    jobs.enqueueJob(this.conn, job);
  }

  async cancelJob(id: string, owner?: JobOwner): Promise<boolean> {
    this.checkOpen();
    return jobs.cancelJob(this.conn, id, owner, Date.now());
  }

  async completeJob(id: string, attempt: number, now: number): Promise<boolean> {
    this.checkOpen();
    return jobs.completeJob(this.conn, id, attempt, now);
  }

  /**
   * Turns SQLite's `UNIQUE constraint failed: T.a, T.b` into UNIQUE_VIOLATION naming the fields
   * (a duplicate primary key names `id`); other errors pass through.
   */
  private uniqueError(err: unknown, entity: EntitySchema): unknown {
    if (!isSqliteError(err) || (err.code !== 'SQLITE_CONSTRAINT_UNIQUE' && err.code !== 'SQLITE_CONSTRAINT_PRIMARYKEY')) return err;
    const list = /constraint failed: (.*)$/.exec(err.message)?.[1] ?? '';
    const prefix = `${entity.name}.`;
    const fields = list
      .split(', ')
      .map((part) => (part.startsWith(prefix) ? part.slice(prefix.length) : part))
      .filter((part) => part !== '');
    if (fields.length === 0) fields.push('id');
    return uniqueViolation(entity.name, fields, err);
  }
}
