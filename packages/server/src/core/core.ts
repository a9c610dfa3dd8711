import type { AppSchema } from '@mast/schema';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AccessControl } from '../access/access-control.js';
import { missingRelationIndexes } from '../access/relation-indexes.js';
import { SchemaRef } from '../access/schema-ref.js';
import { AccountService } from '../auth/accounts.js';
import { AuthedConnections } from '../auth/access-events.js';
import type { AuthContext } from '../access/auth-context.js';
import { ApiKeyService } from '../auth/api-key-service.js';
import { AuthLimits } from '../auth/auth-limits.js';
import { Authenticator } from '../auth/authenticator.js';
import { JwtVerifier, jwtOptionsFromConfig, type JwtOptions } from '../auth/jwt-verifier.js';
import { LocalAuth } from '../auth/local-auth.js';
import { DevOutbox, NoMailer, SmtpMailer, type Mailer } from '../auth/mailer.js';
import { OAuthService } from '../auth/oauth-service.js';
import type { OAuthProviderConfig } from '../auth/oauth-providers.js';
import { OrgService } from '../auth/org-service.js';
import { PasswordHasher } from '../auth/passwords.js';
import { SessionService } from '../auth/session-service.js';
import { ChangeBus } from '../changes/change-bus.js';
import { SyncService } from '../changes/sync-service.js';
import type { MastConfig } from '../config/index.js';
import { CrdtHub, crdtRows, RowDocs } from '../crdt/index.js';
import { EntityReader } from '../entities/entity-reader.js';
import { WritePath } from '../entities/write-path.js';
import { FunctionRateLimit } from '../functions/function-rate-limit.js';
import { FunctionRegistry, FunctionRunner, JobWorker, loadFunctions, SpinWatchdog, WorkerPool, type FunctionSet } from '../functions/index.js';
import type { LiveAccess } from '../live/live-access.js';
import { LiveEngine } from '../live/live-engine.js';
import { RoomHub, type RoomAccess } from '../live/room-hub.js';
import { Metrics, SendCounters } from '../metrics/metrics.js';
import { LiveConnection } from '../session/connection.js';
import { DirectSocket, type DirectConnection } from '../session/direct.js';
import { OpenWatches } from '../session/functions.js';
import type { Store } from '../store/index.js';
import { systemClock, type Clock } from '../clock/clock.js';
import { createLogger } from './logger.js';
import { migrateStore } from './migrate.js';

/** The longest `start` waits for the first function worker to start. */
const WARM_WAIT_MS = 5_000;

/** How long a function worker whose call was ended (deadline, cancel) may take to stop before it is terminated. */
const WORKER_GRACE_MS = 200;

/** What a core is built from. */
export interface CoreOptions {
  /** The app folder: `functions/*.ts` and `crons.ts` are loaded from it. */
  readonly appDir: string;
  /** The app's schema, or a SchemaRef already holding it with its compiled policies. */
  readonly schema: AppSchema | SchemaRef;
  readonly config: MastConfig;
  /** An open store; the core migrates it to `schema` and owns it from then on (closes it in `stop`). */
  readonly store: Store;
  /** Default: `createLogger(config.logLevel)`, which redacts secrets. */
  readonly logger?: Logger;
  /** The clock of jobs, cron schedules and retention (default: the system clock; tests move it). */
  readonly clock?: Clock;
  /** Verifies bring-your-own JWTs; null when none are accepted (default: from the config). */
  readonly jwt?: JwtOptions | null;
  /** Sign-in providers, already checked (default: none). */
  readonly oauthProviders?: readonly OAuthProviderConfig[];
  /** Read-permission hook of live queries (default: the manifest's read policies). */
  readonly liveAccess?: LiveAccess;
  /** Who may join which room, after the built-in rule (default: anyone the built-in rule admits). */
  readonly roomAccess?: RoomAccess;
}

/**
 * Mast without its transports: the store, the schema and its policies, the write path, live
 * queries, CRDT rows, rooms, auth, functions and jobs, wired once, in dependency order. HTTP
 * routes and the socket server are mounted on a core (`http/mount-http.ts`, `ws/attach-sockets.ts`);
 * a test or an embedding program can use it with neither.
 */
export class MastCore {
  readonly config: MastConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly store: Store;
  /** The schema in force with its compiled policies; a dev reload swaps both. */
  readonly schema: SchemaRef;
  /** Committed changes, published after each commit (from the shared change log when several nodes share the database). */
  readonly bus: ChangeBus;
  /** The Loro documents of CRDT rows. */
  readonly docs: RowDocs;
  /** The one write path: every insert, update and delete. */
  readonly writes: WritePath;
  /** CRDT row sync (snapshots and per-subscriber deltas). */
  readonly crdt: CrdtHub;
  readonly reader: EntityReader;
  readonly sync: SyncService;
  /** Request metrics and bytes sent, rendered by `/metrics`. */
  readonly metrics: Metrics;
  readonly sent: SendCounters;
  readonly sessions: SessionService;
  readonly apiKeys: ApiKeyService;
  /** Resolves every kind of bearer token (admin, API key, JWT, session). */
  readonly authenticator: Authenticator;
  /** Local accounts (credentials in Mast's tables, profiles in the user entity). */
  readonly accounts: AccountService;
  /** Database-backed limits of the auth flows (per address and per account, across nodes). */
  readonly authLimits: AuthLimits;
  /** Where auth emails go in dev mode without SMTP; null otherwise. */
  readonly outbox: DevOutbox | null;
  /** Where auth emails go: SMTP, the dev outbox, or nowhere (EMAIL_NOT_CONFIGURED). */
  readonly mailer: Mailer;
  /** Password and emailed-code sign-in; `signIn` also serves federated flows. */
  readonly localAuth: LocalAuth;
  readonly oauth: OAuthService;
  readonly orgs: OrgService;
  /**
   * Every open authenticated connection (sockets, in-process connections, HTTP streams): the one
   * registry a revocation or an org access change ends connections through.
   */
  readonly connections = new AuthedConnections();
  readonly registry = new FunctionRegistry();
  readonly functions: FunctionRunner;
  /** The per-function call limit of the transports. */
  readonly fnRateLimit: FunctionRateLimit;
  /** Runs due jobs and fires cron schedules. */
  readonly jobs: JobWorker;
  readonly live: LiveEngine;
  /** Rooms, presence and topics of this node's connections. */
  readonly rooms: RoomHub;
  readonly #appDir: string;
  /** The app's folder (functions, public assets). */
  get appDir(): string {
    return this.#appDir;
  }
  /** Reports a main-thread function call that blocks the event loop past its deadline. */
  readonly #spinWatchdog: SpinWatchdog | undefined;
  /** The worker threads of isolated functions (none start until one is needed). */
  readonly #workers: WorkerPool;
  #started = false;
  /** Function watches open on in-process connections. */
  readonly #directWatches = new OpenWatches();
  /** What the last function load left out, one line each ("<file>:<line> <message>"). */
  #loadProblems: readonly string[] = [];

  private constructor(options: CoreOptions, schema: SchemaRef, logger: Logger, jwt: JwtOptions | null) {
    const { config, store } = options;
    this.config = config;
    this.logger = logger;
    this.clock = options.clock ?? systemClock;
    this.store = store;
    this.#appDir = options.appDir;
    this.schema = schema;
    this.bus = new ChangeBus((err) => logger.error({ err }, 'change listener failed'));
    this.docs = new RowDocs(store, {
      maxDocs: config.crdtCacheDocs,
      maxBytes: config.crdtCacheBytes,
      onCorrupt: (err, where) => logger.error({ err, ...where }, 'stored CRDT document cannot be decoded'),
      clock: this.clock,
    });
    const jsonLimits = { maxDepth: config.jsonMaxDepth, maxNodes: config.jsonMaxNodes };
    this.writes = new WritePath(store, this.schema, this.bus, crdtRows(this.docs), jsonLimits);
    this.crdt = new CrdtHub({
      store,
      schema: this.schema,
      docs: this.docs,
      writes: this.writes,
      maxUpdateBytes: config.wsMaxFrame,
      onError: (err) => logger.error({ err }, 'CRDT fan-out failed'),
    });
    // A change to rows that read rules look at (a membership) can take rows away from CRDT
    // subscribers; with several nodes, a CRDT row another node changed reaches them from the log.
    this.bus.subscribe((changes) => {
      if (this.crdt.size === 0) return;
      if (this.bus.following) this.crdt.logged(changes).catch((err: unknown) => logger.error({ err }, 'CRDT fan-out failed'));
      this.crdt.recheckRelated(changes).catch((err: unknown) => logger.error({ err }, 'CRDT access re-check failed'));
    });
    const limits = { maxLimit: config.maxLimit, defaultLimit: config.defaultLimit, maxTerms: config.filterMaxTerms, jsonLimits };
    this.reader = new EntityReader(store, this.schema, limits);
    this.sync = new SyncService(store, this.writes, this.schema, { maxLimit: config.maxLimit, maxPush: config.batchMaxOps });
    this.metrics = new Metrics();
    this.sent = new SendCounters();

    // Auth.
    this.sessions = new SessionService(store, { adminToken: config.adminToken, lifetimeSecs: Math.floor(config.sessionLifetime / 1000), clock: this.clock });
    this.apiKeys = new ApiKeyService(store, (sessionHash) => this.sessions.announceRevoked({ tokenHash: sessionHash }), this.clock);
    this.authenticator = new Authenticator({
      sessions: this.sessions,
      apiKeys: this.apiKeys,
      jwt: jwt === null ? null : new JwtVerifier(jwt),
      adminToken: config.adminToken,
    });
    this.accounts = new AccountService(store, this.writes, this.schema, this.clock);
    this.authLimits = new AuthLimits(store, this.clock);
    this.outbox = !config.smtpUrl && config.dev ? new DevOutbox() : null;
    this.mailer = config.smtpUrl ? new SmtpMailer(config.smtpUrl, config.mailFrom) : (this.outbox ?? new NoMailer());
    const minute = 60_000;
    const hour = 3_600_000;
    const localAuth = new LocalAuth({
      store,
      clock: this.clock,
      accounts: this.accounts,
      sessions: this.sessions,
      limits: this.authLimits,
      mailer: this.mailer,
      hasher: new PasswordHasher(config.passwordHashCost),
      options: {
        passwordMinLength: config.passwordMinLength,
        magicCodeTtlMs: config.magicCodeTtl,
        codeMaxAttempts: config.codeMaxAttempts,
        resetTokenTtlMs: config.resetTokenTtl,
        publicUrl: config.publicUrl,
        limits: {
          login: { max: config.authLoginLimit, windowMs: minute },
          loginAccount: { max: config.authLoginAccountLimit, windowMs: hour },
          send: { max: config.authSendLimit, windowMs: minute },
          sendAccount: { max: config.authSendAccountLimit, windowMs: hour },
          verify: { max: config.authVerifyLimit, windowMs: minute },
          guest: { max: config.authGuestLimit, windowMs: minute },
        },
      },
      onError: (err, what) => logger.error({ err }, `${what} failed`),
    });
    this.localAuth = localAuth;
    this.oauth = new OAuthService({
      store,
      accounts: this.accounts,
      sessions: this.sessions,
      signIn: (caller, find) => localAuth.signIn(caller, find),
      providers: options.oauthProviders ?? [],
      clock: this.clock,
    });
    this.orgs = new OrgService(
      store,
      async (id) => {
        const account = await this.accounts.get(id);
        return account?.emailVerified ? account.email : null;
      },
      this.clock,
    );
    // Connections keep the identity they were opened with: a revocation or an access change ends them.
    this.sessions.onRevoke((event) => this.connections.closeRevoked(event));
    this.orgs.onAccessChange((change) => this.connections.closeAccessChanged(change));

    // Functions and jobs. A mutation's jobs wake the worker once they commit; the worker is
    // built after the runner it drives, so the wake-up goes through `#kickJobs`.
    const now = () => this.clock.now();
    this.#spinWatchdog = config.fnSpinExit > 0 ? SpinWatchdog.forProcess(config.fnSpinExit) : undefined;
    const scheduler = { registry: this.registry, maxAttempts: config.jobMaxAttempts, now, onEnqueued: () => this.#kickJobs() };
    this.#workers = new WorkerPool({ size: config.fnWorkers, maxQueued: config.fnQueue, graceMs: WORKER_GRACE_MS, logger });
    this.functions = new FunctionRunner({
      store,
      schema: this.schema,
      writes: this.writes,
      registry: this.registry,
      readLimits: limits,
      limits: { timeoutMs: config.fnTimeout, mutationTimeoutMs: config.fnMutationTimeout, idleMs: config.fnIdle },
      logger,
      jobs: scheduler,
      ...(this.#spinWatchdog ? { watchdog: this.#spinWatchdog } : {}),
      isolation: { pool: this.#workers, all: config.fnIsolation === 'all' },
      exposeHandlerErrors: config.dev,
    });
    this.fnRateLimit = new FunctionRateLimit(this.registry, config.fnRateLimit);
    this.jobs = new JobWorker({
      store,
      runner: this.functions,
      registry: this.registry,
      scheduler,
      logger,
      now,
      pollMs: config.jobPoll,
      // A lease outlives every deadline of the call it covers (an action and the mutation it runs).
      leaseMs: Math.max(config.jobLease, config.fnTimeout + config.fnMutationTimeout + 1000),
      concurrency: config.jobConcurrency,
      backoffMs: config.jobBackoff,
    });

    // Live queries and rooms.
    this.live = new LiveEngine({
      store,
      schema: this.schema,
      bus: this.bus,
      limits,
      access: options.liveAccess ?? {
        canRead: (auth, entity, row) => this.schema.access.canRead(auth, entity, row),
        scopeOf: (auth) => this.schema.access.scopeOf(auth),
        readFilter: (auth, entity) => this.schema.access.readFilter(auth, entity),
        // An admin reads every row whatever related rows say, so nothing it reads depends on them.
        readDependencies: (auth, entity) => (auth.isAdmin ? [] : this.schema.access.readDependencies(entity)),
      },
      maxSubscriptions: config.liveMaxSubscriptions,
      onError: (err) => logger.error({ err }, 'live query update failed'),
    });
    const live = this.live;
    this.rooms = new RoomHub({
      clock: this.clock,
      maxRoomsPerSink: config.roomMaxPerSocket,
      maxMembers: config.roomMaxMembers,
      maxPresenceBytes: config.roomMaxPresence,
      maxMessageBytes: config.roomMaxMessage,
      presenceTtlMs: config.roomPresenceTtl,
      allowGuests: config.roomAllowGuests,
      jsonLimits,
      // The manifest's room rules (allowJoin), then the app's own hook; a room no rule names is open.
      canJoin: (auth, room) => this.schema.access.canJoinRoom(auth, room) !== false && (options.roomAccess?.(auth, room) ?? true),
      seq: () => live.seq,
    });
    // A change to rows that room rules look at (a membership deleted) can take members out of rooms.
    this.bus.subscribe((changes) => {
      if (this.rooms.roomCount === 0) return;
      const access = this.schema.access;
      const reads = access.roomDependencies();
      const changed = new Set(changes.map((c) => c.entity).filter((e) => reads.has(e)));
      if (changed.size > 0) this.rooms.recheck((room) => access.roomDependsOn(room, changed));
    });
  }

  /**
   * Migrates `options.store` to the schema (refusing destructive steps unless the config allows
   * them), builds the services and loads the app's functions. Policies and the JWT setup are
   * checked before anything touches the database. On failure the store is closed.
   */
  static async create(options: CoreOptions): Promise<MastCore> {
    const logger = options.logger ?? createLogger(options.config);
    try {
      // Policies and the JWT setup are checked before the database is touched: a bad rule changes nothing.
      const schema = options.schema instanceof SchemaRef ? options.schema : new SchemaRef(options.schema);
      const jwt = options.jwt === undefined ? jwtOptionsFromConfig(options.config) : options.jwt;
      const plan = await migrateStore(options.store, schema.current, { allowDestructive: options.config.allowDestructive });
      if (plan.length > 0) logger.info({ plan }, 'database migrated');
      schema.bindStore(options.store);
      for (const missing of missingRelationIndexes(schema.current, schema.access)) {
        logger.warn({ policy: missing.policy, entity: missing.entity, fields: missing.fields }, missing.message);
      }
      const core = new MastCore(options, schema, logger, jwt);
      await core.reloadFunctions({ fresh: false });
      return core;
    } catch (err) {
      await options.store.close();
      throw err;
    }
  }

  #kickJobs(): void {
    this.jobs.kick();
  }

  /**
   * Loads `<appDir>/functions/*.ts` again and serves the result; calls in flight finish with the
   * definitions they started with. Files that fail are logged (file and line), left out, and
   * reported by `loadProblems` (so `/health` is 503) until a load without them.
   */
  async reloadFunctions(options: { fresh?: boolean } = {}): Promise<FunctionSet> {
    const set = await loadFunctions(this.#appDir, { fresh: options.fresh ?? true });
    for (const error of set.errors) this.logger.error({ file: error.file, line: error.line }, `function file ${error.message}`);
    this.#loadProblems = set.errors.map((e) => `${e.file}${e.line === undefined ? '' : `:${e.line}`} ${e.message}`);
    this.registry.use(set);
    const isolated = [...set.functions.values()].filter((f) => this.config.fnIsolation === 'all' || f.definition.isolated === true);
    this.#workers.preload(isolated.map((f) => f.url));
    if (isolated.length > 0) this.#workers.warm();
    // Up before any call: a watchdog thread started while a handler blocks the loop never runs.
    if (isolated.length < set.functions.size) this.#spinWatchdog?.start();
    return set;
  }

  /**
   * What the app declares that the last load left out (function files that failed to import or
   * export no function, crons that cannot run), one line each naming the file.
   */
  get loadProblems(): readonly string[] {
    return this.#loadProblems;
  }

  /** Serves a new schema after migrating to it (dev reload); the old one stays on failure. */
  async reload(schema: AppSchema): Promise<string[]> {
    const access = new AccessControl(schema, this.schema.lookup);
    const previous = this.schema.current;
    const plan = await migrateStore(this.store, schema, { allowDestructive: this.config.allowDestructive });
    // A rename drops the entity's stored documents (they name fields); so goes their cached copy.
    for (const entity of schema.entities) {
      const before = previous.entitiesByName.get(entity.name);
      if (entity.crdt && before && entity.fields.some((f) => f.renamedFrom !== undefined && !before.fieldsByName.has(f.name) && before.fieldsByName.has(f.renamedFrom))) {
        this.docs.forgetEntity(entity.name);
      }
    }
    this.schema.use(schema, access);
    return plan;
  }

  /**
   * An in-process connection as `auth`: the realtime protocol (live queries, resume, rooms,
   * functions, CRDT rows) with no socket, under the same limits and access as a WebSocket. Used
   * by tests and by programs that embed Mast. Call `start` first for live queries to update.
   */
  connect(auth: AuthContext): DirectConnection {
    const { config } = this;
    const socket = new DirectSocket(randomUUID());
    const connection = new LiveConnection({
      id: socket.client.id,
      socket,
      live: this.live,
      limits: { messagesPerSecond: config.wsMessageRate, maxBufferedBytes: config.wsMaxBuffered, jsonLimits: this.writes.jsonLimits },
      logger: this.logger,
      onClose: () => unregister(),
      crdt: this.crdt,
      rooms: this.rooms,
      counters: this.sent,
      functions: { runner: this.functions, rateLimit: this.fnRateLimit, bus: this.bus, maxWatches: config.fnMaxWatches, openWatches: this.#directWatches },
    });
    // Closed like a socket (4001, 4012) on a revocation or an org access change.
    const unregister = this.connections.add(auth, (code) => connection.close(code), { expire: false });
    void socket.client.closed.then(unregister);
    connection.start(auth);
    return socket.client;
  }

  /** Starts what runs in the background: live queries' change feed and the job worker. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Ready means ready: the first isolated call finds its worker started (bounded, so a worker
    // that is slow to start delays readiness at most a few seconds; calls then wait for it).
    await Promise.race([this.#workers.whenWarm(), new Promise((resolve) => setTimeout(resolve, WARM_WAIT_MS).unref())]);
    // Several nodes on one database: the bus publishes the shared change log (every node's commits).
    await this.bus.follow(this.store, (err) => this.logger.warn({ err }, 'change feed interrupted; catching up from the change log'));
    await this.live.start();
    this.jobs.start();
  }

  /**
   * Applies retention now: expired sessions, sign-in states and codes, finished jobs past
   * `jobRetention`, and the change log past its age and size bounds. Returns how many change-log
   * entries went. Every clock reading is the core's clock.
   */
  async prune(): Promise<number> {
    const now = this.clock.now();
    await this.store.sessions.pruneExpired(now);
    await this.store.oauthStates.pruneExpired(now);
    await this.store.write((tx) => tx.auth.pruneAuth(now));
    await this.store.jobs.prune(now - this.config.jobRetention);
    return this.store.pruneChanges({ maxAgeMs: this.config.changeRetention, maxEntries: this.config.changeMaxEntries });
  }

  /** Stops the background work, the function workers and then the store (after its write queue drains). */
  async stop(): Promise<void> {
    try {
      await this.jobs.stop();
      await this.live.stop();
      this.rooms.stop();
      await this.bus.close();
    } finally {
      await this.#workers.close();
      await this.store.close();
    }
  }
}

/** Builds a core on an open store: `createCore({ appDir, store, schema, config, clock })`. See `MastCore.create`. */
export function createCore(options: CoreOptions): Promise<MastCore> {
  return MastCore.create(options);
}
