import type { DbReader, DbWriter, Filter } from '@mast/functions';
import type { AuthContext } from '../access/auth-context.js';
import { parseFilter, type FilterLimits } from '../entities/filter-parser.js';
import type { SchemaRef } from '../access/schema-ref.js';
import type { WriteSession } from '../entities/write-path.js';
import { AppError, fnErrors } from '../errors/index.js';
import type { ReadTx, Row, Store } from '../store/index.js';
import type { ReadSet } from './read-set.js';

/** Called before and after every `ctx.db` operation, so a watchdog can tell db work from other awaits. */
export interface DbActivity {
  begin(): void;
  end(): void;
}

const IDLE: DbActivity = { begin: () => undefined, end: () => undefined };

/** Longest run of ctx.db calls without giving timers and I/O a turn. */
const MAX_TURN_MS = 10;
let turnStart = performance.now();
let markerPending = false;

/**
 * SQLite calls are synchronous, so `for (;;) await ctx.db.get(...)` would run on microtasks
 * alone and starve every timer (deadlines included) and socket. Each ctx.db call therefore
 * yields to the event loop once the current turn has lasted MAX_TURN_MS. A store whose calls
 * wait on I/O (`capabilities.blockingCalls` false, PostgreSQL) gives the loop its turns anyway.
 */
async function fairTurn(blocking: boolean): Promise<void> {
  if (!blocking) return;
  if (!markerPending) {
    markerPending = true;
    setImmediate(() => {
      markerPending = false;
      turnStart = performance.now();
    });
  }
  if (performance.now() - turnStart > MAX_TURN_MS) await new Promise<void>((resolve) => setImmediate(resolve));
}

function readOnly(): never {
  throw fnErrors.queryCannotWrite();
}

/** Filtered rows through `tx`, with the caller's read rule ANDed in (the REST query's semantics). */
async function queryRows(tx: ReadTx, schema: SchemaRef, limits: FilterLimits, auth: AuthContext, entityName: string, filter: Filter | undefined): Promise<Row[]> {
  const entity = schema.entity(entityName);
  const parsed = parseFilter(entity, filter ?? {}, limits);
  const where = schema.access.scopeRead(auth, entity.name, parsed.where);
  return tx.find(entity.name, { ...parsed, ...(where ? { where } : {}), limit: parsed.limit ?? limits.defaultLimit });
}

/**
 * A query's `ctx.db`: every read sees one snapshot, opened at the first call (so a handler that
 * awaits other things first holds no reader) and released by `close()`. The snapshot holds one
 * of the store's few reader connections, which is why a query must not await other things
 * while it has one (the runner's watchdog). Rows the caller may not read are invisible. Write
 * methods exist only to fail with FN_TYPE_MISMATCH.
 */
export class QueryDb implements DbReader {
  readonly #store: Store;
  readonly #schema: SchemaRef;
  readonly #limits: FilterLimits;
  readonly #auth: AuthContext;
  #snapshot: Promise<ReadTx> | undefined;
  #release: (() => void) | undefined;
  #done: Promise<void> | undefined;
  readonly #activity: DbActivity;
  readonly #readSet: ReadSet | undefined;
  #closed = false;

  /** With `readSet`, every read is recorded there (live query functions). */
  constructor(store: Store, schema: SchemaRef, limits: FilterLimits, auth: AuthContext, activity: DbActivity = IDLE, readSet?: ReadSet) {
    this.#store = store;
    this.#schema = schema;
    this.#limits = limits;
    this.#auth = auth;
    this.#activity = activity;
    this.#readSet = readSet;
  }

  /** True while a snapshot is open (a reader connection is held). */
  get holding(): boolean {
    return this.#snapshot !== undefined && !this.#closed;
  }

  async #run<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    this.#activity.begin();
    try {
      return await fn(await this.#tx());
    } finally {
      this.#activity.end();
    }
  }

  async #tx(): Promise<ReadTx> {
    await fairTurn(this.#store.capabilities.blockingCalls);
    if (this.#closed) throw new Error('this query has ended; its snapshot is closed');
    if (!this.#snapshot) {
      const finished = new Promise<void>((resolve) => (this.#release = resolve));
      this.#snapshot = new Promise<ReadTx>((resolve, reject) => {
        this.#done = this.#store
          .read(async (tx) => {
            resolve(tx);
            await finished;
          })
          .catch(reject);
      });
    }
    return this.#snapshot;
  }

  get(entity: string, id: string): Promise<Row | null> {
    return this.#run(async (tx) => {
      const name = this.#schema.entity(entity).name;
      this.#readSet?.fetched(name, id);
      this.#recordRuleReads(name);
      const row = await tx.get(name, id);
      if (!row || this.#schema.access.canRead(this.#auth, name, row)) return row;
      return null;
    });
  }

  /**
   * A read rule that looks at other entities (`exists`) makes their changes part of what the
   * run read: a membership change can change the answer.
   */
  #recordRuleReads(entity: string): void {
    if (!this.#readSet || this.#auth.isAdmin) return;
    for (const related of this.#schema.access.readDependencies(entity)) this.#readSet.queried(related);
  }

  query(entity: string, filter?: Filter): Promise<Row[]> {
    return this.#run((tx) => {
      this.#readSet?.queried(this.#schema.entity(entity).name);
      this.#recordRuleReads(this.#schema.entity(entity).name);
      return queryRows(tx, this.#schema, this.#limits, this.#auth, entity, filter);
    });
  }

  list(entity: string): Promise<Row[]> {
    return this.query(entity, { $limit: this.#limits.maxLimit });
  }

  async lookup(entity: string, field: string, value: unknown): Promise<Row | null> {
    return (await this.query(entity, { [field]: value, $limit: 1 }))[0] ?? null;
  }

  insert(): Promise<string> {
    return Promise.resolve().then(readOnly);
  }

  update(): Promise<boolean> {
    return Promise.resolve().then(readOnly);
  }

  delete(): Promise<boolean> {
    return Promise.resolve().then(readOnly);
  }

  /** Ends the snapshot; later calls fail. Resolves once the reader is back in the pool. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#release?.();
    await this.#done;
  }
}

/**
 * A mutation's `ctx.db`: reads and writes through the mutation's WriteSession, so they see the
 * transaction's own changes, obey the caller's policies and land in the change log.
 */
export class MutationDb implements DbWriter {
  readonly #session: WriteSession;
  readonly #schema: SchemaRef;
  readonly #limits: FilterLimits;
  readonly #activity: DbActivity;
  readonly #blocking: boolean;

  /** `blocking`: the store's `capabilities.blockingCalls`. */
  constructor(session: WriteSession, schema: SchemaRef, limits: FilterLimits, activity: DbActivity = IDLE, blocking = true) {
    this.#blocking = blocking;
    this.#session = session;
    this.#schema = schema;
    this.#limits = limits;
    this.#activity = activity;
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    this.#activity.begin();
    try {
      await fairTurn(this.#blocking);
      return await fn();
    } finally {
      this.#activity.end();
    }
  }

  get(entity: string, id: string): Promise<Row | null> {
    return this.#run(() => this.#session.get(this.#schema.entity(entity).name, id));
  }

  query(entity: string, filter?: Filter): Promise<Row[]> {
    return this.#run(() => queryRows(this.#session.reads, this.#schema, this.#limits, this.#session.auth, entity, filter));
  }

  list(entity: string): Promise<Row[]> {
    return this.query(entity, { $limit: this.#limits.maxLimit });
  }

  async lookup(entity: string, field: string, value: unknown): Promise<Row | null> {
    return (await this.query(entity, { [field]: value, $limit: 1 }))[0] ?? null;
  }

  insert(entity: string, data: Record<string, unknown>): Promise<string> {
    return this.#run(async () => (await this.#session.apply({ op: 'insert', entity, data })).id);
  }

  update(entity: string, id: string, patch: Record<string, unknown>): Promise<boolean> {
    return this.#run(() => notFoundIsFalse(this.#session.apply({ op: 'update', entity, id, data: patch })));
  }

  delete(entity: string, id: string): Promise<boolean> {
    return this.#run(() => notFoundIsFalse(this.#session.apply({ op: 'delete', entity, id })));
  }
}

async function notFoundIsFalse(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (err instanceof AppError && err.code === 'NOT_FOUND') return false;
    throw err;
  }
}
