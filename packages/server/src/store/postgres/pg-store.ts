import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { evaluateFilter } from '@mast/schema';
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
import * as log from './pg-changes.js';
import { changeChannel, PgChangeFeed, type ChangeFeedOptions } from './pg-change-feed.js';
import { PgConnection, translatePgError } from './pg-connection.js';
import { getCrdt } from './pg-crdt.js';
import * as jobs from './pg-jobs.js';
import * as keysOrgs from './pg-keys-orgs.js';
import { PgLookup } from './pg-lookup.js';
import { applyMigration } from './pg-migrate.js';
import * as sessions from './pg-sessions.js';
import { ensureTables } from './pg-tables.js';
import { PgReadTx, PgWriteTx } from './pg-tx.js';

/** Options of `createPgStore`; every limit has a default. */
export interface PgStoreOptions {
  /** A `postgres://` connection string. Never logged: it may carry a password. */
  readonly url: string;
  /**
   * The schema Mast's tables live in (created when missing); default the connection's own
   * `search_path` (normally `public`). Lower-case letters, digits and `_` only.
   */
  readonly schema?: string;
  /** Most pooled connections (default 10). */
  readonly maxConnections?: number;
  /** How long a request waits for a pooled connection before STORE_BUSY (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** Longest statement before the server cancels it (default 30000 ms). */
  readonly statementTimeoutMs?: number;
  /**
   * Send a notification (`pg_notify` on the schema's channel, carrying the new head) with every
   * commit that appended to the change log, so other nodes' change feeds wake (default true).
   */
  readonly notify?: boolean;
  /** Longest wait for a row or table lock before STORE_BUSY (default 10000 ms). */
  readonly lockTimeoutMs?: number;
  /** A session idle inside a transaction this long is ended by the server (default 60000 ms). */
  readonly idleInTransactionTimeoutMs?: number;
}

/** A Store on PostgreSQL. */
export interface PgStore extends Store {
  /** The schema Mast's tables live in. */
  readonly schemaName: string;
  /** Follows the change log as other nodes (and this one) commit to it: see `PgChangeFeed`. */
  followChanges(options: ChangeFeedOptions): Promise<PgChangeFeed>;
}

/** What the current async context holds while a `read` or `write` callback runs. */
interface Holder {
  readonly conn: PgConnection;
  readonly tx: PgReadTx;
  readonly kind: 'read' | 'write';
  active: boolean;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** int8 as numbers (every Mast value is below 2^53), json as its text (the row codec parses it). */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8) return (text: string) => Number(text);
    if (oid === pg.types.builtins.JSON) return (text: string) => text;
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** The connection settings every pooled and lookup connection uses. */
export function connectionConfig(options: PgStoreOptions, schema: string | undefined): pg.ClientConfig {
  return {
    connectionString: options.url,
    types: TYPES,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    lock_timeout: options.lockTimeoutMs ?? 10_000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    application_name: 'mast',
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  };
}

class PgStoreImpl implements PgStore {
  readonly capabilities: StoreCapabilities = Object.freeze({ concurrentWriters: true, snapshotReads: true, multiNode: true, blockingCalls: false });
  readonly sessions: SessionStore = {
    create: (session) => this.system((conn) => sessions.createSession(conn, session)),
    find: (tokenHash) => this.query((conn) => sessions.findSession(conn, tokenHash)),
    revoke: (tokenHash) => this.query((conn) => sessions.revokeSession(conn, tokenHash)),
    setTenant: (tokenHash, tenantId) => this.query((conn) => sessions.setSessionTenant(conn, tokenHash, tenantId)),
    revokeUser: (userId) => this.query((conn) => sessions.revokeUserSessions(conn, userId)),
    pruneExpired: (now) => this.query((conn) => sessions.pruneExpiredSessions(conn, now)),
  };
  readonly jobs: JobStore = {
    enqueue: (job) => this.query((conn) => jobs.enqueueJob(conn, job)),
    cancel: (id, owner, now = Date.now()) => this.system((conn) => jobs.cancelJob(conn, id, owner, now)),
    claim: (now, leaseMs, limit) => this.query((conn) => jobs.claimJobs(conn, now, leaseMs, limit)),
    complete: (id, attempt, now) => this.query((conn) => jobs.completeJob(conn, id, attempt, now)),
    fail: (id, attempt, error, retryAt, now) => this.query((conn) => jobs.failJob(conn, id, attempt, error, retryAt, now)),
    retry: (id, now) => this.query((conn) => jobs.retryJob(conn, id, now)),
    get: (id) => this.query((conn) => jobs.getJob(conn, id)),
    list: ({ status, limit }) => this.query((conn) => jobs.listJobs(conn, status, limit)),
    prune: (before) => this.query((conn) => jobs.pruneJobs(conn, before)),
    crons: () => this.query((conn) => jobs.listCrons(conn)),
    setCron: (record) => this.query((conn) => jobs.setCron(conn, record)),
    fireCron: (name, expected, next, job) => this.system((conn) => jobs.fireCron(conn, name, expected, next, job)),
  };
  readonly apiKeys: ApiKeyStore = {
    create: (key) => this.query((conn) => keysOrgs.createApiKey(conn, key)),
    find: (id) => this.query((conn) => keysOrgs.findApiKey(conn, id)),
    list: (userId) => this.query((conn) => keysOrgs.listApiKeys(conn, userId)),
    count: (userId) => this.query((conn) => keysOrgs.countApiKeys(conn, userId)),
    revoke: (id, userId) => this.query((conn) => keysOrgs.revokeApiKey(conn, id, userId)),
    touch: (id, now) => this.query((conn) => keysOrgs.touchApiKey(conn, id, now)),
  };
  readonly orgs: OrgStore = {
    create: (org) => this.system((conn) => keysOrgs.createOrg(conn, org)),
    get: (id) => this.query((conn) => keysOrgs.getOrg(conn, id)),
    listForUser: (userId) => this.query((conn) => keysOrgs.listOrgsForUser(conn, userId)),
    countForUser: (userId) => this.query((conn) => keysOrgs.countOrgsForUser(conn, userId)),
    delete: (id) => this.system((conn) => keysOrgs.deleteOrg(conn, id)),
    members: (orgId) => this.query((conn) => keysOrgs.listMembers(conn, orgId)),
    countMembers: (orgId) => this.query((conn) => keysOrgs.countMembers(conn, orgId)),
    role: (orgId, userId) => this.query((conn) => keysOrgs.memberRole(conn, orgId, userId)),
    putMember: (member) => this.system((conn) => keysOrgs.putMember(conn, member)),
    removeMember: (orgId, userId) => this.system((conn) => keysOrgs.removeMember(conn, orgId, userId)),
    putInvite: (invite) => this.query((conn) => keysOrgs.putInvite(conn, invite)),
    invites: (orgId) => this.query((conn) => keysOrgs.listInvites(conn, orgId)),
    countInvites: (orgId) => this.query((conn) => keysOrgs.countInvites(conn, orgId)),
    findInvite: (tokenHash) => this.query((conn) => keysOrgs.findInvite(conn, tokenHash)),
    deleteInvite: (orgId, id) => this.query((conn) => keysOrgs.deleteInvite(conn, orgId, id)),
    acceptInvite: (tokenHash, userId, now) => this.system((conn) => keysOrgs.acceptInvite(conn, tokenHash, userId, now)),
  };
  readonly oauthStates: OAuthStateStore = {
    put: (state) => this.query((conn) => keysOrgs.putOAuthState(conn, state)),
    take: (stateHash, now) => this.query((conn) => keysOrgs.takeOAuthState(conn, stateHash, now)),
    pruneExpired: (now) => this.query((conn) => keysOrgs.pruneOAuthStates(conn, now)),
  };
  readonly crdt: CrdtSnapshotStore = {
    get: (entity, rowId) => this.query((conn) => getCrdt(conn, entity, rowId)),
  };
  private readonly context = new AsyncLocalStorage<Holder>();
  private schema: AppSchema | null = null;
  private running = 0;
  private closing = false;
  private closed: Promise<void> | null = null;
  private onIdle: (() => void) | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly lookup: PgLookup,
    readonly schemaName: string,
    private readonly config: pg.ClientConfig,
    private readonly notify: boolean,
  ) {}

  async followChanges(options: ChangeFeedOptions): Promise<PgChangeFeed> {
    this.checkOpen(undefined);
    const feed = new PgChangeFeed(this.config, changeChannel(this.schemaName), (since, limit) => this.changesSince(since, limit), options);
    await feed.start();
    return feed;
  }

  useSchema(schema: AppSchema): void {
    this.schema = schema;
  }

  /** New work is refused once `close()` began, except work started by a callback still running. */
  private checkOpen(holder: Holder | undefined): void {
    if (this.closing && !holder?.active) throw storeErrors.closed();
  }

  /** Runs `task` on a pooled connection of its own, counted so that `close()` can wait for it. */
  private async withConnection<T>(task: (conn: PgConnection) => Promise<T>): Promise<T> {
    this.running++;
    try {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw translatePgError(err);
      }
      let broken: Error | undefined;
      try {
        return await task(new PgConnection(client));
      } catch (err) {
        // A connection whose transaction could not be ended is not given back to the pool.
        if (err instanceof BrokenConnection) broken = err;
        throw err instanceof BrokenConnection ? err.original : err;
      } finally {
        client.release(broken);
      }
    } finally {
      if (--this.running === 0) this.onIdle?.();
    }
  }

  /** One statement (or a few, each autocommitted) outside any transaction. */
  private query<T>(task: (conn: PgConnection) => Promise<T>): Promise<T> {
    this.checkOpen(this.context.getStore());
    return this.withConnection(task);
  }

  /** Several statements of Mast's own tables in one READ COMMITTED transaction. */
  private system<T>(task: (conn: PgConnection) => Promise<T>): Promise<T> {
    this.checkOpen(this.context.getStore());
    return this.withConnection((conn) => inTransaction(conn, 'BEGIN', () => task(conn)));
  }

  async write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    const holder = this.context.getStore();
    if (holder?.active && holder.kind === 'write') {
      throw new Error('store.write() was called inside a write transaction; use the WriteTx it was given');
    }
    this.checkOpen(holder);
    return this.withConnection((conn) =>
      // READ COMMITTED: see docs/scale-out.md (isolation) for why, and what guards it.
      inTransaction(conn, 'BEGIN ISOLATION LEVEL READ COMMITTED', async () => {
        const tx = new PgWriteTx(conn, () => this.schema);
        const inner: Holder = { conn, tx, kind: 'write', active: true };
        try {
          const result = await this.context.run(inner, () => fn(tx));
          // Delivered at commit, and only if it commits: a wake-up carrying the new head.
          if (this.notify && tx.lastSeq > 0) await conn.exec('SELECT pg_notify($1, $2)', [changeChannel(this.schemaName), String(tx.lastSeq)]);
          return result;
        } finally {
          inner.active = false;
          tx.finish();
        }
      }),
    );
  }

  read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    const holder = this.context.getStore();
    this.checkOpen(holder);
    if (holder?.active && holder.kind === 'read') return fn(holder.tx);
    return this.withConnection((conn) =>
      inTransaction(conn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async () => {
        const tx = new PgReadTx(conn, () => this.schema);
        const inner: Holder = { conn, tx, kind: 'read', active: true };
        try {
          return await this.context.run(inner, () => fn(tx));
        } finally {
          inner.active = false;
          tx.finish();
        }
      }),
    );
  }

  /**
   * Answered by the lookup connection (the last committed state). Inside a write, the rows this
   * transaction has written to `entity` replace their committed versions: the committed rows
   * are asked with those ids left out, and the written images are matched in memory. Rows the
   * write changed in other entities that `where` reaches through nested related filters are seen
   * as committed; inside a read, commits newer than the read's snapshot are seen.
   */
  rowExists(entityName: string, where: FilterNode): boolean {
    const holder = this.context.getStore();
    this.checkOpen(holder);
    const entity = this.schema?.entitiesByName.get(entityName);
    if (!entity) throw storeErrors.unknownEntity(entityName);
    const resolve = (name: string) => this.schema?.entitiesByName.get(name);
    const written = holder?.active && holder.tx instanceof PgWriteTx ? holder.tx.written(entityName) : undefined;
    if (!written || written.size === 0) return this.lookup.exists(entity, where, resolve);
    const others: FilterNode = { kind: 'and', items: [where, { kind: 'in', field: 'id', values: [...written.keys()], negate: true }] };
    if (this.lookup.exists(entity, others, resolve)) return true;
    for (const row of written.values()) {
      if (row && evaluateFilter(where, row, (name, inner) => this.rowExists(name, inner))) return true;
    }
    return false;
  }

  changesSince(since: number, limit: number): Promise<ChangeRecord[]> {
    return this.query((conn) => log.changesSince(conn, since, limit));
  }

  changeLogBounds(): Promise<ChangeLogBounds> {
    this.checkOpen(this.context.getStore());
    return this.withConnection((conn) => inTransaction(conn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', () => log.changeLogBounds(conn)));
  }

  pruneChanges(policy: RetentionPolicy, now: number = Date.now()): Promise<number> {
    return this.system((conn) => log.pruneChanges(conn, policy, now));
  }

  recordedSchema(): Promise<RecordedSchema | null> {
    return this.query((conn) => log.readRecordedSchema(conn));
  }

  introspect(): Promise<LiveTables> {
    return this.query(async (conn) => {
      const rows = await conn.exec(
        `SELECT table_name AS t, column_name AS c FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_mast\\_%'
         ORDER BY table_name, ordinal_position`,
      );
      const result = new Map<string, string[]>();
      for (const row of rows) {
        const table = String(row['t']);
        let columns = result.get(table);
        if (!columns) result.set(table, (columns = []));
        columns.push(String(row['c']));
      }
      return result;
    });
  }

  async migrate(plan: MigrationPlan, schema: AppSchema): Promise<void> {
    await this.system((conn) => applyMigration(conn, plan, schema, new Date().toISOString()));
    this.schema = schema;
  }

  sizeBytes(): Promise<number> {
    return this.query(async (conn) => {
      const rows = await conn.exec(
        `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'`,
      );
      return Number(rows[0]?.['n'] ?? 0);
    });
  }

  /** Waits for running work to finish, then closes the pool and the lookup connection. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    while (this.running > 0) {
      await new Promise<void>((resolve) => (this.onIdle = resolve));
      this.onIdle = null;
    }
    this.lookup.close();
    await this.pool.end();
  }
}

/** Wraps the error of a transaction that could not be rolled back: its connection is dropped. */
class BrokenConnection extends Error {
  constructor(readonly original: unknown) {
    super('the connection could not end its transaction');
  }
}

/** Runs `task` between `begin` and COMMIT, rolling back when it throws. */
async function inTransaction<T>(conn: PgConnection, begin: string, task: () => Promise<T>): Promise<T> {
  await conn.exec(begin);
  let result: T;
  try {
    result = await task();
  } catch (err) {
    try {
      await conn.exec('ROLLBACK');
    } catch {
      throw new BrokenConnection(err);
    }
    throw err;
  }
  try {
    await conn.exec('COMMIT');
  } catch (err) {
    throw new BrokenConnection(err);
  }
  return result;
}

/**
 * Opens a PostgreSQL database as a Store: a pool of connections (writers run concurrently, each
 * in its own transaction), Mast's tables created when missing, and a dedicated connection for
 * the synchronous related-row lookups policies make (`rowExists`).
 */
export async function createPgStore(options: PgStoreOptions): Promise<PgStore> {
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`invalid PostgreSQL schema name "${schema}"`);
  const config = connectionConfig(options, schema);
  const pool = new pg.Pool({ ...config, max: options.maxConnections ?? 10, idleTimeoutMillis: 30_000 });
  // An idle pooled client that loses its server is dropped by the pool; the next request gets a new one.
  pool.on('error', () => undefined);
  let current: string;
  try {
    const client = await pool.connect();
    try {
      // The search_path names the schema before it exists; it applies from the next statement.
      if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await ensureTables(new PgConnection(client));
      current = String((await client.query('SELECT current_schema() AS s')).rows[0]?.['s'] ?? 'public');
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw translatePgError(err);
  }
  const lookup = new PgLookup(config);
  return new PgStoreImpl(pool, lookup, current, config, options.notify ?? true);
}
