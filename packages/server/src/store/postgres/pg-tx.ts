import type { AppSchema, EntitySchema } from '@mast/schema';
import { errors, storeErrors } from '../../errors/index.js';
import type { FilterNode, FindQuery } from '@mast/schema';
import { compileFilter, compileFind } from '../sql/compile-filter.js';
import { decodeRow, encodeFields } from '../sql/row-codec.js';
import { SqlParams } from '../sql/sql-dialect.js';
import { uniqueViolation } from '../sql/unique-violation.js';
import type { AuthReads, AuthWrites, ChangeRecord, CrdtRecord, JobOwner, NewChange, NewJob, OpRecord, ReadTx, Row, WriteTx } from '../store.js';
import { PgAuth } from './pg-auth.js';
import * as log from './pg-changes.js';
import { isPgError, type Cells, type PgConnection } from './pg-connection.js';
import * as crdt from './pg-crdt.js';
import { pgDialect as dialect } from './pg-dialect.js';
import * as jobs from './pg-jobs.js';

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

/** `SELECT EXISTS (…)` for a related-row condition, with its parameters. */
export function existsQuery(entity: EntitySchema, where: FilterNode, resolve: (name: string) => EntitySchema | undefined): { sql: string; params: unknown[] } {
  const params = new SqlParams(dialect);
  const clause = compileFilter(where, entity, dialect, params, resolve);
  return { sql: `SELECT EXISTS (SELECT 1 FROM ${q(entity.name)} WHERE ${clause}) AS e`, params: params.values };
}

/**
 * The fields a unique violation names, from PostgreSQL's `Key (a, b)=(…)` detail (only the
 * column list is read; the values are never repeated).
 */
function violatedFields(detail: string | undefined): string[] {
  const list = detail === undefined ? undefined : /^Key \((.*?)\)=\(/.exec(detail)?.[1];
  if (!list) return ['id'];
  return list.split(', ').map((part) => part.replace(/^"(.*)"$/, '$1').replaceAll('""', '"'));
}

/** Reads on one pooled connection, valid until the transaction that created it ends. */
export class PgReadTx implements ReadTx {
  private open = true;
  readonly auth: AuthReads;

  constructor(
    protected readonly conn: PgConnection,
    private readonly schema: () => AppSchema | null,
  ) {
    this.auth = new PgAuth(conn, () => this.checkOpen());
  }

  /** Invalidates the handle; later calls throw instead of touching another transaction. */
  finish(): void {
    this.open = false;
  }

  protected entity(name: string): EntitySchema {
    this.checkOpen();
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

  /** The lock clause `get` adds: none for reads. */
  protected readonly rowLock: string = '';

  async get(entityName: string, id: string): Promise<Row | null> {
    const entity = this.entity(entityName);
    const rows = await this.conn.exec(`SELECT ${selectList(entity)} FROM ${q(entity.name)} WHERE "id" = $1${this.rowLock}`, [id]);
    return this.decode(entity, rows[0]);
  }

  async find(entityName: string, query: FindQuery): Promise<Row[]> {
    const entity = this.entity(entityName);
    const params = new SqlParams(dialect);
    const clauses = compileFind(query, entity, dialect, params, this.resolve);
    const rows = await this.conn.exec(`SELECT ${selectList(entity)} FROM ${q(entity.name)}${clauses.sql}`, params.values);
    return rows.map((cells) => decodeRow(dialect.cells, entity, cells));
  }

  async count(entityName: string, where?: FilterNode): Promise<number> {
    const entity = this.entity(entityName);
    const params = new SqlParams(dialect);
    const clause = where ? ` WHERE ${compileFilter(where, entity, dialect, params, this.resolve)}` : '';
    const rows = await this.conn.exec(`SELECT COUNT(*) AS n FROM ${q(entity.name)}${clause}`, params.values);
    return Number(rows[0]?.['n'] ?? 0);
  }

  async getOp(opId: string): Promise<OpRecord | null> {
    this.checkOpen();
    return log.getOp(this.conn, opId);
  }

  /** Whether a row of `entity` matches `where`, in this transaction. */
  async exists(entity: EntitySchema, where: FilterNode): Promise<boolean> {
    this.checkOpen();
    const { sql, params } = existsQuery(entity, where, this.resolve);
    return (await this.conn.exec(sql, params))[0]?.['e'] === true;
  }
}

/**
 * Writes inside the READ COMMITTED transaction `write()` opened. `get` locks the row it reads
 * (`FOR UPDATE`), so the image a write path reads before changing a row is the one it changes:
 * a concurrent writer of the same row waits for this commit instead of racing it.
 */
export class PgWriteTx extends PgReadTx implements WriteTx {
  declare readonly auth: AuthWrites;
  protected override readonly rowLock: string = ' FOR UPDATE';
  /** Rows this transaction has written, per entity: the image after the write, null once deleted. */
  readonly #written = new Map<string, Map<string, Row | null>>();

  /** The rows this transaction has written to `entity` (id → row after, or null when deleted). */
  written(entity: string): ReadonlyMap<string, Row | null> | undefined {
    return this.#written.get(entity);
  }

  #note(entity: string, id: string, row: Row | null): void {
    let rows = this.#written.get(entity);
    if (!rows) this.#written.set(entity, (rows = new Map()));
    rows.set(id, row);
  }

  async insert(entityName: string, row: Row): Promise<Row> {
    const entity = this.entity(entityName);
    if (typeof row.id !== 'string' || row.id === '') {
      throw storeErrors.emptyId(entity.name);
    }
    const given = new Map(encodeFields(dialect.cells, entity, row, true));
    const names = ['id', ...entity.fields.map((f) => f.name)];
    const sql = `INSERT INTO ${q(entity.name)} (${selectList(entity)}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING ${selectList(entity)}`;
    try {
      const rows = await this.conn.exec(
        sql,
        names.map((n) => given.get(n) ?? null),
      );
      const inserted = this.decode(entity, rows[0])!;
      this.#note(entity.name, inserted.id, inserted);
      return inserted;
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
    const sql = `UPDATE ${q(entity.name)} SET ${sets.map(([name], i) => `${q(name)} = $${i + 1}`).join(', ')} WHERE "id" = $${sets.length + 1} RETURNING ${selectList(entity)}`;
    try {
      const rows = await this.conn.exec(sql, [...sets.map(([, cell]) => cell), id]);
      const updated = this.decode(entity, rows[0]);
      if (updated) this.#note(entity.name, id, updated);
      return updated;
    } catch (err) {
      throw this.uniqueError(err, entity);
    }
  }

  async delete(entityName: string, id: string): Promise<Row | null> {
    const entity = this.entity(entityName);
    const rows = await this.conn.exec(`DELETE FROM ${q(entity.name)} WHERE "id" = $1 RETURNING ${selectList(entity)}`, [id]);
    const deleted = this.decode(entity, rows[0]);
    if (deleted) this.#note(entity.name, id, null);
    return deleted;
  }

  /** The seq of this transaction's last change-log entry (0 when it wrote none). */
  lastSeq = 0;

  async appendChange(change: NewChange): Promise<ChangeRecord> {
    this.checkOpen();
    const record = await log.appendChange(this.conn, change, Date.now());
    this.lastSeq = record.seq;
    return record;
  }

  async putOp(op: OpRecord): Promise<void> {
    this.checkOpen();
    await log.putOp(this.conn, op, Date.now());
  }

  async getCrdt(entity: string, rowId: string): Promise<CrdtRecord | null> {
    this.checkOpen();
    return crdt.getCrdt(this.conn, entity, rowId, true);
  }

  async putCrdt(record: CrdtRecord): Promise<void> {
    this.checkOpen();
    await crdt.putCrdt(this.conn, record);
  }

  async deleteCrdt(entity: string, rowId: string): Promise<boolean> {
    this.checkOpen();
    return crdt.deleteCrdt(this.conn, entity, rowId);
  }

  async enqueueJob(job: NewJob): Promise<void> {
    this.checkOpen();
    await jobs.enqueueJob(this.conn, job);
  }

  async cancelJob(id: string, owner?: JobOwner): Promise<boolean> {
    this.checkOpen();
    return jobs.cancelJob(this.conn, id, owner, Date.now());
  }

  async completeJob(id: string, attempt: number, now: number): Promise<boolean> {
    this.checkOpen();
    return jobs.completeJob(this.conn, id, attempt, now);
  }

  /** Turns SQLSTATE 23505 into UNIQUE_VIOLATION naming the fields; other errors pass through. */
  private uniqueError(err: unknown, entity: EntitySchema): unknown {
    if (!isPgError(err, '23505')) return err;
    return uniqueViolation(entity.name, violatedFields(err.detail), err);
  }
}
