import { AsyncLocalStorage } from 'node:async_hooks';
import { statSync } from 'node:fs';
import type { AppSchema, FilterNode, MigrationPlan, RecordedSchema } from '@mast/schema';
import { storeErrors } from '../../errors/index.js';
import type {
  ApiKeyStore,
  ChangeLogBounds,
  ChangeRecord,
  CrdtSnapshotStore,
  JobStore,
  LiveTables,
  OAuthStateStore,
  OrgStore,
  ReadTx,
  RetentionPolicy,
  SessionStore,
  Store,
  StoreCapabilities,
  WriteTx,
} from '../store.js';
import * as keysOrgs from './sqlite-keys-orgs.js';
import * as log from './sqlite-changes.js';
import { ensureCrdtTable, getCrdt } from './sqlite-crdt.js';
import { SqliteConnection } from './sqlite-connection.js';
import { applyMigration } from './sqlite-migrate.js';
import * as jobs from './sqlite-jobs.js';
import * as sessions from './sqlite-sessions.js';
import { lockDatabase, type DatabaseLock } from './sqlite-lock.js';
import { DEFAULT_BUSY_TIMEOUT_MS, readPragmas } from './sqlite-pragmas.js';
import { rowExistsOn, SqliteReadTx, SqliteWriteTx } from './sqlite-tx.js';

/** Options of `createSqliteStore`. */
export interface SqliteStoreOptions {
  /** A file path, or `:memory:` for a private in-memory database on a single connection. */
  readonly path: string;
  /** Reader connections serving `read()` on a file database (default 4); unused for `:memory:`. */
  readonly readers?: number;
  /** How long to wait for another process's lock before STORE_BUSY (default 5000 ms). */
  readonly busyTimeoutMs?: number;
  /**
   * Claim the file for this store alone (`lockDatabase`) until `close()`: a server and
   * `mast migrate` do; readers such as `mast policy check --explain` need not. Ignored for
   * `:memory:`. Opening throws `DatabaseInUseError` while another store holds the claim.
   */
  readonly exclusive?: boolean;
}

/** A Store on SQLite, with a diagnostic view of its connections' pragmas. */
export interface SqliteStore extends Store {
  /** Current pragma values of the writer and each reader connection. */
  pragmas(): { writer: Record<string, unknown>; readers: Array<Record<string, unknown>> };
}

/**
 * What the current async context holds: set while a `write` or `read` callback runs, so that a
 * nested call re-uses the connection instead of waiting for itself (which would deadlock).
 */
interface Holder {
  readonly conn: SqliteConnection;
  readonly kind: 'read' | 'write';
  active: boolean;
  /** Serialises writes nested in a read on the shared in-memory connection. */
  nested: Promise<unknown>;
}

const DEFAULT_READERS = 4;
const noop = (): void => undefined;

class SqliteStoreImpl implements SqliteStore {
  readonly capabilities: StoreCapabilities;
  readonly sessions: SessionStore = {
    create: (session) => this.write(async () => sessions.createSession(this.writer, session)),
    find: (tokenHash) => this.withReadConnection(async (conn) => sessions.findSession(conn, tokenHash)),
    revoke: (tokenHash) => this.write(async () => sessions.revokeSession(this.writer, tokenHash)),
    setTenant: (tokenHash, tenantId) => this.write(async () => sessions.setSessionTenant(this.writer, tokenHash, tenantId)),
    revokeUser: (userId) => this.write(async () => sessions.revokeUserSessions(this.writer, userId)),
    pruneExpired: (now) => this.write(async () => sessions.pruneExpiredSessions(this.writer, now)),
  };
  readonly jobs: JobStore = {
    enqueue: (job) => this.write(async () => jobs.enqueueJob(this.writer, job)),
    cancel: (id, owner, now = Date.now()) => this.write(async () => jobs.cancelJob(this.writer, id, owner, now)),
    claim: (now, leaseMs, limit) => this.write(async () => jobs.claimJobs(this.writer, now, leaseMs, limit)),
    complete: (id, attempt, now) => this.write(async () => jobs.completeJob(this.writer, id, attempt, now)),
    fail: (id, attempt, error, retryAt, now) => this.write(async () => jobs.failJob(this.writer, id, attempt, error, retryAt, now)),
    retry: (id, now) => this.write(async () => jobs.retryJob(this.writer, id, now)),
    get: (id) => this.withReadConnection(async (conn) => jobs.getJob(conn, id)),
    list: ({ status, limit }) => this.withReadConnection(async (conn) => jobs.listJobs(conn, status, limit)),
    prune: (before) => this.write(async () => jobs.pruneJobs(this.writer, before)),
    crons: () => this.withReadConnection(async (conn) => jobs.listCrons(conn)),
    setCron: (record) => this.write(async () => jobs.setCron(this.writer, record)),
    fireCron: (name, expected, next, job) => this.write(async () => jobs.fireCron(this.writer, name, expected, next, job)),
  };
  readonly apiKeys: ApiKeyStore = {
    create: (key) => this.write(async () => keysOrgs.createApiKey(this.writer, key)),
    find: (id) => this.withReadConnection(async (conn) => keysOrgs.findApiKey(conn, id)),
    list: (userId) => this.withReadConnection(async (conn) => keysOrgs.listApiKeys(conn, userId)),
    count: (userId) => this.withReadConnection(async (conn) => keysOrgs.countApiKeys(conn, userId)),
    revoke: (id, userId) => this.write(async () => keysOrgs.revokeApiKey(this.writer, id, userId)),
    touch: (id, now) => this.write(async () => keysOrgs.touchApiKey(this.writer, id, now)),
  };
  readonly orgs: OrgStore = {
    create: (org) => this.write(async () => keysOrgs.createOrg(this.writer, org)),
    get: (id) => this.withReadConnection(async (conn) => keysOrgs.getOrg(conn, id)),
    listForUser: (userId) => this.withReadConnection(async (conn) => keysOrgs.listOrgsForUser(conn, userId)),
    countForUser: (userId) => this.withReadConnection(async (conn) => keysOrgs.countOrgsForUser(conn, userId)),
    delete: (id) => this.write(async () => keysOrgs.deleteOrg(this.writer, id)),
    members: (orgId) => this.withReadConnection(async (conn) => keysOrgs.listMembers(conn, orgId)),
    countMembers: (orgId) => this.withReadConnection(async (conn) => keysOrgs.countMembers(conn, orgId)),
    role: (orgId, userId) => this.withReadConnection(async (conn) => keysOrgs.memberRole(conn, orgId, userId)),
    putMember: (member) => this.write(async () => keysOrgs.putMember(this.writer, member)),
    removeMember: (orgId, userId) => this.write(async () => keysOrgs.removeMember(this.writer, orgId, userId)),
    putInvite: (invite) => this.write(async () => keysOrgs.putInvite(this.writer, invite)),
    invites: (orgId) => this.withReadConnection(async (conn) => keysOrgs.listInvites(conn, orgId)),
    countInvites: (orgId) => this.withReadConnection(async (conn) => keysOrgs.countInvites(conn, orgId)),
    findInvite: (tokenHash) => this.withReadConnection(async (conn) => keysOrgs.findInvite(conn, tokenHash)),
    deleteInvite: (orgId, id) => this.write(async () => keysOrgs.deleteInvite(this.writer, orgId, id)),
    acceptInvite: (tokenHash, userId, now) => this.write(async () => keysOrgs.acceptInvite(this.writer, tokenHash, userId, now)),
  };
  readonly oauthStates: OAuthStateStore = {
    put: (state) => this.write(async () => keysOrgs.putOAuthState(this.writer, state)),
    take: (stateHash, now) => this.write(async () => keysOrgs.takeOAuthState(this.writer, stateHash, now)),
    pruneExpired: (now) => this.write(async () => keysOrgs.pruneOAuthStates(this.writer, now)),
  };
  readonly crdt: CrdtSnapshotStore = {
    get: (entity, rowId) => this.withReadConnection(async (conn) => getCrdt(conn, entity, rowId)),
  };
  private readonly writer: SqliteConnection;
  private readonly lock: DatabaseLock | null;
  private readonly readers: SqliteConnection[] = [];
  /** Answers `rowExists` outside any transaction: autocommit reads of the last commit. */
  private lookup: SqliteConnection | null = null;
  private readonly free: SqliteConnection[] = [];
  private readonly waiting: Array<(conn: SqliteConnection) => void> = [];
  private readonly context = new AsyncLocalStorage<Holder>();
  /** Readers share the writer (`:memory:`): reads then queue with writes. */
  private readonly shared: boolean;
  private tail: Promise<unknown> = Promise.resolve();
  private schema: AppSchema | null = null;
  private closing = false;
  private finished = false;
  private closed: Promise<void> | null = null;
  private onIdle: (() => void) | null = null;

  constructor(private readonly options: SqliteStoreOptions) {
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    this.shared = options.path === ':memory:';
    // Taken before the database is opened, so a refused store touches nothing.
    this.lock = options.exclusive && !this.shared ? lockDatabase(options.path) : null;
    try {
      this.writer = new SqliteConnection(options.path, { readonly: false, busyTimeoutMs });
    } catch (err) {
      this.lock?.release();
      throw err;
    }
    try {
      log.ensureInternalTables(this.writer);
      ensureCrdtTable(this.writer);
      if (!this.shared) {
        const count = Math.max(1, Math.trunc(options.readers ?? DEFAULT_READERS));
        for (let i = 0; i < count; i++) this.readers.push(new SqliteConnection(options.path, { readonly: true, busyTimeoutMs }));
        this.free.push(...this.readers);
        this.lookup = new SqliteConnection(options.path, { readonly: true, busyTimeoutMs });
      }
    } catch (err) {
      for (const reader of this.readers) reader.close();
      this.lookup?.close();
      this.writer.close();
      this.lock?.release();
      throw err;
    }
    this.capabilities = Object.freeze({ concurrentWriters: false, snapshotReads: !this.shared, multiNode: false, blockingCalls: true });
  }

  useSchema(schema: AppSchema): void {
    this.schema = schema;
  }

  /** Runs `task` after every task queued before it, whether those succeeded or failed. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.then(noop, noop);
    return run;
  }

  /** New work is refused once `close()` began, except work started by a callback still running. */
  private checkOpen(holder: Holder | undefined): void {
    if (this.finished || (this.closing && !holder?.active)) throw storeErrors.closed();
  }

  async write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    const holder = this.context.getStore();
    if (holder?.active && holder.kind === 'write') {
      throw new Error('store.write() was called inside a write transaction; use the WriteTx it was given');
    }
    this.checkOpen(holder);
    if (this.shared && holder?.active) {
      // A read holding the single connection (and so the queue) wants to write: run in its turn.
      const run = holder.nested.then(() => this.runWrite(fn));
      holder.nested = run.then(noop, noop);
      return run;
    }
    return this.enqueue(() => this.runWrite(fn));
  }

  private async runWrite<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    const conn = this.writer;
    conn.exec('BEGIN IMMEDIATE');
    const holder: Holder = { conn, kind: 'write', active: true, nested: Promise.resolve() };
    const tx = new SqliteWriteTx(conn, () => this.schema);
    try {
      const result = await this.context.run(holder, () => fn(tx));
      holder.active = false;
      tx.finish();
      conn.exec('COMMIT');
      return result;
    } catch (err) {
      if (conn.db.inTransaction) {
        try {
          conn.db.exec('ROLLBACK');
        } catch {
          // The original error is the one worth reporting.
        }
      }
      throw err;
    } finally {
      holder.active = false;
      tx.finish();
    }
  }

  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    return this.withReadConnection(async (conn) => {
      const tx = new SqliteReadTx(conn, () => this.schema);
      try {
        return await fn(tx);
      } finally {
        tx.finish();
      }
    });
  }

  /**
   * Runs `task` on a connection with a consistent view: a reader inside its own transaction
   * (file), or the shared connection in its turn of the queue (`:memory:`). A call nested in a
   * read, or in a write on the shared connection, re-uses the caller's connection.
   */
  private async withReadConnection<T>(task: (conn: SqliteConnection) => Promise<T>): Promise<T> {
    const holder = this.context.getStore();
    this.checkOpen(holder);
    if (holder?.active && (this.shared || holder.kind === 'read')) return task(holder.conn);
    if (this.shared) return this.enqueue(() => this.runRead(this.writer, task, false));
    const conn = await this.acquire();
    try {
      return await this.runRead(conn, task, true);
    } finally {
      this.release(conn);
    }
  }

  private async runRead<T>(conn: SqliteConnection, task: (conn: SqliteConnection) => Promise<T>, begin: boolean): Promise<T> {
    const holder: Holder = { conn, kind: 'read', active: true, nested: Promise.resolve() };
    if (begin) conn.exec('BEGIN');
    try {
      const result = await this.context.run(holder, () => task(conn));
      await holder.nested;
      return result;
    } finally {
      holder.active = false;
      if (begin && conn.db.inTransaction) conn.exec('COMMIT');
    }
  }

  private acquire(): Promise<SqliteConnection> {
    const conn = this.free.pop();
    if (conn) return Promise.resolve(conn);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(conn: SqliteConnection): void {
    const next = this.waiting.shift();
    if (next) return next(conn);
    this.free.push(conn);
    if (this.free.length === this.readers.length) this.onIdle?.();
  }

  /**
   * The caller's transaction connection when there is one, else the lookup connection. On
   * `:memory:` (one shared connection) a lookup made outside a transaction while another
   * callback's write is open sees that write's uncommitted rows: use a file for production.
   */
  rowExists(entityName: string, where: FilterNode): boolean {
    const holder = this.context.getStore();
    this.checkOpen(holder);
    const entity = this.schema?.entitiesByName.get(entityName);
    if (!entity) throw storeErrors.unknownEntity(entityName);
    const conn = holder?.active ? holder.conn : (this.lookup ?? this.writer);
    return rowExistsOn(conn, entity, where, (name) => this.schema?.entitiesByName.get(name));
  }

  changesSince(since: number, limit: number): Promise<ChangeRecord[]> {
    return this.withReadConnection(async (conn) => log.changesSince(conn, since, limit));
  }

  changeLogBounds(): Promise<ChangeLogBounds> {
    return this.withReadConnection(async (conn) => log.changeLogBounds(conn));
  }

  pruneChanges(policy: RetentionPolicy, now: number = Date.now()): Promise<number> {
    return this.write(async () => log.pruneChanges(this.writer, policy, now));
  }

  recordedSchema(): Promise<RecordedSchema | null> {
    return this.withReadConnection(async (conn) => log.readRecordedSchema(conn));
  }

  introspect(): Promise<LiveTables> {
    return this.withReadConnection(async (conn) => {
      const tables = conn.all(
        `SELECT name FROM sqlite_schema WHERE type = 'table'
         AND name NOT LIKE '\\_mast\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`,
      );
      const result = new Map<string, readonly string[]>();
      for (const { name } of tables) {
        const columns = conn.all('SELECT name FROM pragma_table_info(?) ORDER BY cid', [name]);
        result.set(
          String(name),
          columns.map((c) => String(c['name'])),
        );
      }
      return result;
    });
  }

  async migrate(plan: MigrationPlan, schema: AppSchema): Promise<void> {
    await this.write(async () => applyMigration(this.writer, plan, schema, new Date().toISOString()));
    this.schema = schema;
  }

  async sizeBytes(): Promise<number> {
    const pages = await this.withReadConnection(async (conn) => Number(conn.get('SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()')?.['n'] ?? 0));
    if (this.shared) return pages;
    try {
      return pages + statSync(`${this.options.path}-wal`).size;
    } catch {
      return pages; // no WAL file right now
    }
  }

  pragmas(): { writer: Record<string, unknown>; readers: Array<Record<string, unknown>> } {
    this.checkOpen(undefined);
    return { writer: readPragmas(this.writer.db), readers: this.readers.map((r) => readPragmas(r.db)) };
  }

  /** Waits for queued writes and running reads to finish, then closes every connection. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    for (;;) {
      const seen = this.tail;
      await seen;
      if (this.free.length < this.readers.length) {
        await new Promise<void>((resolve) => (this.onIdle = resolve));
        this.onIdle = null;
        continue;
      }
      if (seen === this.tail) break;
    }
    this.finished = true;
    for (const reader of this.readers) reader.close();
    this.lookup?.close();
    this.writer.close();
    this.lock?.release();
  }
}

/**
 * Opens (creating if needed) a SQLite database as a Store: one writer connection whose
 * transactions queue and run one at a time, plus WAL reader connections for `read()`, each
 * reading the last state committed when its read began. better-sqlite3 is synchronous, so
 * several readers add no parallelism; they let overlapping async `read` callbacks each keep
 * their own snapshot instead of waiting for one another.
 */
export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStoreImpl(options);
}
