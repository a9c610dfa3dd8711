import { createHash } from 'node:crypto';
import { DEFAULT_JSON_LIMITS, type JsonLimits } from '@mast/protocol';
import type { EntitySchema } from '@mast/schema';
import type { AccessControl } from '../access/index.js';
import { canWrite, type AuthContext } from '../access/auth-context.js';
import { AppError, entityErrors, errors } from '../errors/index.js';
import type { CrdtRowStage, CrdtRows } from './crdt-rows.js';
import type { ChangeRecord, ReadTx, Row, Store, WriteTx } from '../store/index.js';
import { checkClientId, newRowId } from './row-id.js';
import type { SchemaRef } from '../access/schema-ref.js';
import { coerceInsert, coercePatch } from './value-codec.js';

/** One change a caller asks for. `id` on insert is the client's own id (kept when valid). */
export type WriteOp =
  | { readonly op: 'insert'; readonly entity: string; readonly data: unknown; readonly id?: unknown }
  | { readonly op: 'update'; readonly entity: string; readonly id: string; readonly data: unknown }
  | { readonly op: 'delete'; readonly entity: string; readonly id: string };

/** What one op did. `row` is the row after the change (before it, for a delete). */
export interface WriteResult {
  readonly op: WriteOp['op'];
  readonly entity: string;
  readonly id: string;
  readonly row: Row;
  readonly seq: number;
}

/** Options of one write. */
export interface WriteOptions {
  /** Client op id: a replay with the same request returns the first result and writes nothing. */
  readonly opId?: string;
}

/** Who writes, and the write's options. Policies are checked against `auth` (admin bypasses). */
export interface WriteContext extends WriteOptions {
  readonly auth: AuthContext;
}

/** The outcome of a write: results per op, or the recorded results of an earlier replay. */
export interface WriteOutcome {
  readonly results: readonly WriteResult[];
  readonly deduped: boolean;
}

/**
 * Where the write path hands committed changes (the core's `ChangeBus`): published at once, or,
 * on a database several nodes share, the promise of their publication from the shared log.
 */
export interface ChangePublisher {
  committed(changes: readonly ChangeRecord[]): void | Promise<void>;
}

/** An op validated against the schema, ready to run in a transaction. */
export type PreparedOp =
  | { op: 'insert'; entity: EntitySchema; id: string; values: Record<string, unknown> }
  | { op: 'update'; entity: EntitySchema; id: string; patch: Record<string, unknown> }
  | { op: 'delete'; entity: EntitySchema; id: string };

/**
 * The one way application data changes. Every mutation (REST, batch, transact, sync push, and
 * later functions and CRDT pushes) becomes a list of ops that run in one store transaction
 * writing the rows and their change-log entries together; the committed changes are published
 * only after the commit.
 */
export class WritePath {
  readonly #store: Store;
  readonly #schema: SchemaRef;
  readonly #bus: ChangePublisher;
  readonly #docs: CrdtRows | undefined;
  /** Depth and size bounds of `json` field values, on every path that writes (JSON_TOO_DEEP above). */
  readonly jsonLimits: JsonLimits;

  /** With `docs`, rows of CRDT entities are written through their Loro documents. */
  constructor(store: Store, schema: SchemaRef, bus: ChangePublisher, docs?: CrdtRows, jsonLimits: JsonLimits = DEFAULT_JSON_LIMITS) {
    this.#store = store;
    this.#schema = schema;
    this.#bus = bus;
    this.#docs = docs;
    this.jsonLimits = jsonLimits;
  }

  /** The schema of an entity the caller names; ENTITY_NOT_FOUND when there is none. */
  entity(name: string): EntitySchema {
    return this.#schema.entity(name);
  }

  /** Validates ops without touching the database (types, required fields, ids). */
  prepare(op: WriteOp): PreparedOp {
    const entity = this.#schema.entity(op.entity);
    switch (op.op) {
      case 'insert': {
        const given = op.id ?? (isRecord(op.data) ? op.data.id : undefined);
        const id = given === undefined || given === null ? newRowId() : checkClientId(given);
        return { op: 'insert', entity, id, values: coerceInsert(entity, op.data, this.jsonLimits) };
      }
      case 'update':
        return { op: 'update', entity, id: op.id, patch: coercePatch(entity, op.id, op.data, this.jsonLimits) };
      case 'delete':
        return { op: 'delete', entity, id: op.id };
    }
  }

  /**
   * Runs `fn` in one write transaction with a `WriteSession`: every change it makes is checked
   * against `context.auth`, logged, and published after the commit (it resolves once they are);
   * a throw rolls all of it back. With an op id, a replay of the same request (same `fingerprint`) returns the first
   * result without running `fn`; the same id with another request is OP_ID_REUSED.
   */
  async transaction<T>(context: WriteContext, fingerprint: string, fn: (session: WriteSession) => Promise<T>): Promise<{ result: T; deduped: boolean }> {
    // Op ids are chosen by clients, so they are kept per caller: another user replaying a
    // guessed id gets a fresh write checked against their own rights, not someone's result.
    const opKey = context.opId === undefined ? undefined : `${context.auth.userId ?? ''}\u0000${context.opId}`;
    if (!canWrite(context.auth)) throw entityErrors.readOnlyKey();
    const access = this.#schema.access;
    const stage = this.#docs?.stage();
    const outcome = await this.#store.write(async (tx) => {
      if (opKey !== undefined) {
        const earlier = await tx.getOp(opKey);
        if (earlier) {
          if (earlier.fingerprint !== fingerprint) {
            throw entityErrors.opIdReused(context.opId);
          }
          return { result: earlier.result as T, changes: [] as ChangeRecord[], deduped: true };
        }
      }
      const session = new WriteSession(tx, this, access, context, stage);
      let result: T;
      try {
        result = await fn(session);
      } finally {
        session.close();
      }
      if (opKey !== undefined) await tx.putOp({ opId: opKey, fingerprint, result });
      return { result, changes: session.changes, deduped: false };
    });
    stage?.commit();
    // Published at once on one node; with several, once the shared log has handed them back.
    const published = this.#bus.committed(outcome.changes);
    if (published) await published;
    return { result: outcome.result, deduped: outcome.deduped };
  }

  /**
   * Applies ops atomically: all commit or none do. Throws the first op's error (with its index
   * in `extra.index` when there are several ops).
   */
  async apply(ops: readonly WriteOp[], options: WriteContext): Promise<WriteOutcome> {
    const prepared = ops.map((op, index) => withIndex(ops.length, index, () => this.prepare(op)));
    const fingerprint = options.opId === undefined ? '' : fingerprintOf(ops);
    const { result, deduped } = await this.transaction(options, fingerprint, async (session) => {
      const results: WriteResult[] = [];
      for (const [index, op] of prepared.entries()) results.push(await withIndexAsync(prepared.length, index, () => session.applyPrepared(op)));
      return results;
    });
    return { results: result, deduped };
  }
}

/** The writes to Mast's own tables a write session lends to system code (see `WriteSession.system`). */
export type SystemWrites = Pick<WriteTx, 'auth' | 'enqueueJob' | 'cancelJob' | 'completeJob'>;

/**
 * The changes of one write transaction, made by a caller: each op is validated, checked
 * against the caller's policies and logged. Handed out by `WritePath.transaction` and usable
 * only until that transaction ends.
 */
export class WriteSession {
  /** The change-log entries written so far, in order. */
  readonly changes: ChangeRecord[] = [];
  readonly #tx: WriteTx;
  readonly #path: WritePath;
  readonly #access: AccessControl;
  readonly #context: WriteContext;
  readonly #stage: CrdtRowStage | undefined;
  #open = true;

  constructor(tx: WriteTx, path: WritePath, access: AccessControl, context: WriteContext, stage?: CrdtRowStage) {
    this.#tx = tx;
    this.#path = path;
    this.#access = access;
    this.#context = context;
    this.#stage = stage;
  }

  /** Who this session writes as. */
  get auth(): AuthContext {
    return this.#context.auth;
  }

  /** Validates and applies one op; returns what it did. */
  apply(op: WriteOp): Promise<WriteResult> {
    return this.applyPrepared(this.#path.prepare(op));
  }

  /** Applies an op already validated by `WritePath.prepare`. */
  async applyPrepared(op: PreparedOp): Promise<WriteResult> {
    if (!this.#open) throw new Error('this write session has ended; its transaction is over');
    const { result, change } = await applyOne(this.#tx, op, this.#access, this.#context, this.#stage);
    this.changes.push(change);
    return result;
  }

  /**
   * Merges a client's Loro update into a CRDT row (see `mergeUpdate`): the projected row is
   * written and logged as an update when it changed. NOT_SUPPORTED for an entity with crdt off.
   */
  async mergeCrdt(entityName: string, id: string, update: Uint8Array): Promise<WriteResult & { docChanged: boolean }> {
    if (!this.#open) throw new Error('this write session has ended; its transaction is over');
    const entity = this.#path.entity(entityName);
    if (!entity.crdt || !this.#stage) throw errors.notCrdtEntity(entity.name);
    const merged = await this.#stage.merge(this.#tx, this.#access, this.auth, entity, id, update, this.#path.jsonLimits);
    let seq = 0;
    if (merged.rowChanged) {
      const change = await this.#tx.appendChange({ entity: entity.name, rowId: id, kind: 'update', data: merged.row, before: merged.before, opId: this.#context.opId ?? null });
      this.changes.push(change);
      seq = change.seq;
    }
    return { op: 'update', entity: entity.name, id, row: merged.row, seq, docChanged: merged.docChanged };
  }

  /** A row as this transaction sees it (its own uncommitted changes included), if the caller may read it. */
  async get(entity: string, id: string): Promise<Row | null> {
    if (!this.#open) throw new Error('this write session has ended; its transaction is over');
    const row = await this.#tx.get(entity, id);
    if (!row || this.#access.canRead(this.auth, entity, row)) return row;
    return null;
  }

  /**
   * What system code may write in this session's transaction: Mast's own tables (accounts,
   * identities, codes, jobs), never application rows, which go through `apply` and its policies.
   */
  get system(): SystemWrites {
    return this.#tx;
  }

  /**
   * Reads of application rows in this transaction, not scoped by any policy: for system code
   * (accounts adopting a user row) and for readers that scope with `AccessControl.scopeRead`.
   */
  get reads(): ReadTx {
    return this.#tx;
  }

  /** Ends the session; later calls throw instead of writing outside the transaction. */
  close(): void {
    this.#open = false;
  }
}

/**
 * One op inside the transaction. A row the caller may not read is "not found" (its existence
 * does not leak); one they may read but not change is POLICY_DENIED. Updates are checked on the
 * row before and after the patch.
 */
async function applyOne(
  tx: WriteTx,
  op: PreparedOp,
  access: AccessControl,
  context: WriteContext,
  stage: CrdtRowStage | undefined,
): Promise<{ result: WriteResult; change: ChangeRecord }> {
  const entity = op.entity.name;
  const { auth } = context;
  const notFound = (): AppError => errors.rowNotFound(entity, op.id);
  let row: Row | null;
  let before: Row | null = null;
  // CRDT rows with a document: SQL stores its projection, written in this transaction; rows
  // without one (none until a CRDT subscribe or push needs it) are written as SQL only.
  const docs = op.entity.crdt ? stage : undefined;
  switch (op.op) {
    case 'insert':
      access.checkInsert(auth, entity, { ...op.values, id: op.id });
      row = docs
        ? await docs.write(tx, op.entity, op.id, null, op.values, (values) => tx.insert(entity, { ...values, id: op.id }))
        : await tx.insert(entity, { ...op.values, id: op.id });
      break;
    case 'update':
      before = await tx.get(entity, op.id);
      if (!before || !access.canRead(auth, entity, before)) throw notFound();
      access.checkUpdate(auth, entity, before, { ...before, ...op.patch }, op.patch);
      row = docs ? await docs.write(tx, op.entity, op.id, before, op.patch, (patch) => tx.update(entity, op.id, patch)) : await tx.update(entity, op.id, op.patch);
      break;
    case 'delete':
      before = await tx.get(entity, op.id);
      if (!before || !access.canRead(auth, entity, before)) throw notFound();
      access.checkDelete(auth, entity, before);
      row = await tx.delete(entity, op.id);
      if (row && docs) await docs.remove(tx, entity, op.id);
      break;
  }
  if (!row) throw notFound();
  const change = await tx.appendChange({
    entity,
    rowId: op.id,
    kind: op.op,
    data: op.op === 'delete' ? null : row,
    before,
    opId: context.opId ?? null,
  });
  return { result: { op: op.op, entity, id: op.id, row, seq: change.seq }, change };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fingerprintOf(ops: readonly WriteOp[]): string {
  return createHash('sha256').update(JSON.stringify(ops)).digest('base64url');
}

function annotate(count: number, index: number, err: unknown): unknown {
  if (count > 1 && err instanceof AppError) {
    return errors.annotated(err, `operation ${index}: ${err.message}`, { index });
  }
  return err;
}

function withIndex<T>(count: number, index: number, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw annotate(count, index, err);
  }
}

async function withIndexAsync<T>(count: number, index: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw annotate(count, index, err);
  }
}
