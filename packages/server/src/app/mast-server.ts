import type { AddressInfo } from 'node:net';
import { AuthedStreams } from '../auth/access-events.js';
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { type AppSchema, describePlan, diffSchemas, resolveSchema } from '@mast/schema';
import type { MastConfig } from '../config/index.js';
import { ApiKeyService } from '../auth/api-key-service.js';
import { Authenticator } from '../auth/authenticator.js';
import { type JwtOptions, JwtVerifier, jwtOptionsFromConfig } from '../auth/jwt-verifier.js';
import { OrgService } from '../auth/org-service.js';
import { checkProvider, oauthProvidersFromEnv, type OAuthProviderConfig } from '../auth/oauth-providers.js';
import { OAuthService } from '../auth/oauth-service.js';
import { AccountService } from '../auth/accounts.js';
import { AuthLimits } from '../auth/auth-limits.js';
import { LocalAuth } from '../auth/local-auth.js';
import { DevOutbox, NoMailer, SmtpMailer, type Mailer } from '../auth/mailer.js';
import { PasswordHasher } from '../auth/passwords.js';
import { SessionService } from '../auth/session-service.js';
import { ChangeBus } from '../changes/change-bus.js';
import { SyncService } from '../changes/sync-service.js';
import { EntityReader } from '../entities/entity-reader.js';
import { AccessControl } from '../access/index.js';
import { SchemaRef } from '../entities/schema-ref.js';
import { WritePath } from '../entities/write-path.js';
import { CrdtHub, RowDocs } from '../crdt/index.js';
import { registerApiKeyRoutes } from '../http/api-key-routes.js';
import { registerAuthRoutes, requestAuthenticator } from '../http/auth-routes.js';
import { registerOAuthRoutes } from '../http/oauth-routes.js';
import { registerOrgRoutes } from '../http/org-routes.js';
import { registerLocalAuthRoutes } from '../http/local-auth-routes.js';
import { createHttpServer } from '../http/http-server.js';
import { registerPolicyRoutes } from '../http/policy-routes.js';
import { registerEntityRoutes } from '../http/entities-routes.js';
import { registerEventsRoutes, type EventStreams } from '../http/events-routes.js';
import { registerFunctionRoutes, type FunctionStreams } from '../http/functions-routes.js';
import { FunctionRegistry, FunctionRunner, JobWorker, loadFunctions, SpinWatchdog, WorkerPool, type FunctionSet } from '../functions/index.js';
import { registerJobRoutes } from '../http/jobs-routes.js';
import { FunctionRateLimit } from '../http/function-rate-limit.js';
import { registerSyncRoutes } from '../http/sync-routes.js';
import { registerCrdtRoutes } from '../http/crdt-routes.js';
import { registerSystemRoutes } from '../http/system-routes.js';
import type { LiveAccess } from '../live/live-access.js';
import { LiveEngine } from '../live/live-engine.js';
import { Metrics, SendCounters } from '../metrics/metrics.js';
import { RoomHub, type RoomAccess } from '../live/room-hub.js';
import type { Store } from '../store/index.js';
import { LiveSocketServer } from '../ws/ws-server.js';
import { OpenWatches } from '../ws/ws-functions.js';
import { openStore } from './open-store.js';

/** Mast's version, reported by `/health`. */
export const MAST_VERSION = '0.1.0';

/** How often change-log retention runs. */
const PRUNE_INTERVAL_MS = 60_000;

/** The longest `listen` waits for the first function worker to start. */
const WARM_WAIT_MS = 5_000;

/** How long a function worker whose call was ended (deadline, cancel) may take to stop before it is terminated. */
const WORKER_GRACE_MS = 200;

/** What a server is built from. */
export interface MastServerOptions {
  readonly appDir: string;
  readonly schema: AppSchema;
  readonly config: MastConfig;
  /** A store to use instead of opening `config.databaseUrl` (tests, benchmarks). */
  readonly store?: Store;
  readonly logger?: Logger;
  /** Read-permission hook of live queries (default: the manifest's read policies). */
  readonly liveAccess?: LiveAccess;
  /** Sign-in providers (default: MAST_OAUTH_PROVIDERS and its MAST_OAUTH_<NAME>_* variables). */
  readonly oauthProviders?: readonly OAuthProviderConfig[];
  /**
   * Who may join which room, checked after the built-in rule (signed-in users, guests when
   * `roomAllowGuests`, never anonymous sockets; the admin token always). Default: anyone the
   * built-in rule admits.
   */
  readonly roomAccess?: RoomAccess;
  /** The clock of jobs and cron schedules, ms since the epoch (default `Date.now`; tests move it). */
  readonly now?: () => number;
}

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

/** One running Mast backend: store, services and the HTTP server, wired together. */
export class MastServer {
  readonly config: MastConfig;
  readonly store: Store;
  readonly schema: SchemaRef;
  readonly bus: ChangeBus;
  readonly writes: WritePath;
  /** The Loro documents of CRDT rows. */
  readonly docs: RowDocs;
  /** CRDT row sync for sockets. */
  readonly crdt: CrdtHub;
  readonly reader: EntityReader;
  readonly sessions: SessionService;
  /** Resolves every kind of bearer token (admin, API key, JWT, session). */
  readonly authenticator: Authenticator;
  /** Local accounts (credentials in Mast's tables, profiles in the user entity). */
  readonly accounts: AccountService;
  /** Where auth emails go: SMTP, the dev outbox, or nowhere (EMAIL_NOT_CONFIGURED). */
  readonly mailer: Mailer;
  /** Password and emailed-code sign-in; `signIn` also serves federated flows. */
  readonly localAuth: LocalAuth;
  readonly http: FastifyInstance;
  readonly logger: Logger;
  readonly live: LiveEngine;
  readonly sockets: LiveSocketServer;
  /** Rooms, presence and topics of this node's sockets. */
  readonly rooms: RoomHub;
  readonly functions: FunctionRunner;
  /** Runs due jobs and fires cron schedules. */
  readonly jobs: JobWorker;
  readonly #functionRegistry = new FunctionRegistry();
  /** Live-query SSE and function watch streams, ended on a revoked session or changed org access. */
  readonly #streams = new AuthedStreams();
  /** Reports a main-thread function call that blocks the event loop past its deadline. */
  readonly #spinWatchdog: SpinWatchdog | undefined;
  /** The worker threads of isolated functions (none start until one is needed). */
  readonly #workers: WorkerPool;
  readonly #now: () => number;
  #events: EventStreams;
  readonly #appDir: string;
  readonly #functionStreams: FunctionStreams;
  #compatServer: Server | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  /** What the last function load left out, one line each ("<file>:<line> <message>"). */
  #loadProblems: readonly string[] = [];

  private constructor(options: MastServerOptions & { store: Store; logger: Logger; schemaRef: SchemaRef; jwt: JwtOptions | null; providers: readonly OAuthProviderConfig[] }) {
    this.config = options.config;
    this.#appDir = options.appDir;
    this.store = options.store;
    this.logger = options.logger;
    this.schema = options.schemaRef;
    this.bus = new ChangeBus((err) => this.logger.error({ err }, 'change listener failed'));
    this.docs = new RowDocs(this.store, {
      maxDocs: this.config.crdtCacheDocs,
      maxBytes: this.config.crdtCacheBytes,
      onCorrupt: (err, where) => this.logger.error({ err, ...where }, 'stored CRDT document cannot be decoded'),
    });
    this.writes = new WritePath(this.store, this.schema, this.bus, this.docs);
    this.crdt = new CrdtHub({
      store: this.store,
      schema: this.schema,
      docs: this.docs,
      writes: this.writes,
      maxUpdateBytes: this.config.wsMaxFrame,
      onError: (err) => this.logger.error({ err }, 'CRDT fan-out failed'),
    });
    const limits = { maxLimit: this.config.maxLimit, defaultLimit: this.config.defaultLimit };
    this.reader = new EntityReader(this.store, this.schema, limits);
    const sync = new SyncService(this.store, this.writes, this.schema, { maxLimit: this.config.maxLimit, maxPush: this.config.batchMaxOps });
    const metrics = new Metrics();
    const sent = new SendCounters();
    this.sessions = new SessionService(this.store, { adminToken: this.config.adminToken, lifetimeSecs: Math.floor(this.config.sessionLifetime / 1000) });
    const apiKeys = new ApiKeyService(this.store, (sessionHash) => this.sessions.announceRevoked({ tokenHash: sessionHash }));
    this.authenticator = new Authenticator({
      sessions: this.sessions,
      apiKeys,
      jwt: options.jwt === null ? null : new JwtVerifier(options.jwt),
      adminToken: this.config.adminToken,
    });
    this.accounts = new AccountService(this.store, this.writes, this.schema);
    const cookie = {
      name: this.config.cookieName,
      secure: !this.config.dev,
      trustedOrigins: (this.config.trustedOrigins ?? '').split(',').map((o) => o.trim()).filter((o) => o !== ''),
    };
    this.http = createHttpServer({
      bodyLimit: this.config.bodyLimit,
      authenticate: requestAuthenticator(this.authenticator, cookie),
      corsOrigin: this.config.corsOrigin ?? (this.config.dev ? '*' : null),
      logger: this.logger,
      metrics,
      rateLimit: this.config.rateLimit,
      maxConnections: this.config.maxConnections,
      trustProxy: this.config.trustProxy,
    });
    registerSystemRoutes(this.http, {
      version: MAST_VERSION,
      dev: this.config.dev,
      schema: this.schema,
      metrics,
      problems: () => this.#loadProblems,
      gauges: {
        changeLogHead: async () => (await this.store.changeLogBounds()).head,
        dbSizeBytes: () => this.store.sizeBytes(),
        live: () => ({
          sockets: this.sockets.size,
          subscriptions: this.live.subscriptionCount,
          fnWatches: this.sockets.watchCount,
          queries: this.live.queryCount,
          rooms: this.rooms.roomCount,
          roomMembers: this.rooms.memberCount,
          framesSent: sent.frames,
          bytesSent: sent.bytes,
          closes: this.sockets.closes(),
        }),
      },
    });
    registerEntityRoutes(this.http, { reader: this.reader, writes: this.writes, batchMaxOps: this.config.batchMaxOps });
    registerSyncRoutes(this.http, sync);
    registerCrdtRoutes(this.http, { writes: this.writes, maxUpdateBytes: this.config.bodyLimit });
    const authLimits = new AuthLimits(this.store);
    const outbox = !this.config.smtpUrl && this.config.dev ? new DevOutbox() : null;
    this.mailer = this.config.smtpUrl ? new SmtpMailer(this.config.smtpUrl, this.config.mailFrom) : (outbox ?? new NoMailer());
    const minute = 60_000;
    const hour = 3_600_000;
    const localAuth = (this.localAuth = new LocalAuth({
      store: this.store,
      accounts: this.accounts,
      sessions: this.sessions,
      limits: authLimits,
      mailer: this.mailer,
      hasher: new PasswordHasher(this.config.passwordHashCost),
      options: {
        passwordMinLength: this.config.passwordMinLength,
        magicCodeTtlMs: this.config.magicCodeTtl,
        codeMaxAttempts: this.config.codeMaxAttempts,
        resetTokenTtlMs: this.config.resetTokenTtl,
        publicUrl: this.config.publicUrl,
        limits: {
          login: { max: this.config.authLoginLimit, windowMs: minute },
          loginAccount: { max: this.config.authLoginAccountLimit, windowMs: hour },
          send: { max: this.config.authSendLimit, windowMs: minute },
          sendAccount: { max: this.config.authSendAccountLimit, windowMs: hour },
          verify: { max: this.config.authVerifyLimit, windowMs: minute },
          guest: { max: this.config.authGuestLimit, windowMs: minute },
        },
      },
      onError: (err, what) => this.logger.error({ err }, `${what} failed`),
    }));
    registerAuthRoutes(this.http, this.sessions, cookie, { dev: this.config.dev, limitGuest: (ip) => localAuth.limitGuest(ip), profile: (id) => this.accounts.profile(id) });
    registerLocalAuthRoutes(this.http, localAuth, cookie, outbox);
    registerOAuthRoutes(this.http, {
      oauth: new OAuthService({ store: this.store, accounts: this.accounts, sessions: this.sessions, signIn: (caller, find) => localAuth.signIn(caller, find), providers: options.providers }),
      cookie,
      publicUrl: this.config.publicUrl,
      rateLimit: this.config.authRateLimit,
      limits: authLimits,
    });
    registerApiKeyRoutes(this.http, { apiKeys, rateLimit: this.config.authRateLimit, limits: authLimits });
    const orgs = new OrgService(this.store, async (id) => {
      const account = await this.accounts.get(id);
      return account?.emailVerified ? account.email : null;
    });
    // Sockets keep the tenant and role they connected with: a change closes them to reconnect.
    orgs.onAccessChange((change) => {
      this.sockets.closeAccessChanged(change);
      this.#streams.closeAccessChanged(change);
    });
    registerOrgRoutes(this.http, { orgs, sessions: this.sessions, rateLimit: this.config.authRateLimit, limits: authLimits });
    const now = options.now ?? Date.now;
    this.#now = now;
    this.#spinWatchdog = this.config.fnSpinExit > 0 ? SpinWatchdog.forProcess(this.config.fnSpinExit) : undefined;
    const scheduler = { registry: this.#functionRegistry, maxAttempts: this.config.jobMaxAttempts, now, onEnqueued: () => this.jobs.kick() };
    this.#workers = new WorkerPool({ size: this.config.fnWorkers, maxQueued: this.config.fnQueue, graceMs: WORKER_GRACE_MS, logger: this.logger });
    this.functions = new FunctionRunner({
      store: this.store,
      schema: this.schema,
      writes: this.writes,
      registry: this.#functionRegistry,
      readLimits: limits,
      limits: { timeoutMs: this.config.fnTimeout, mutationTimeoutMs: this.config.fnMutationTimeout, idleMs: this.config.fnIdle },
      logger: this.logger,
      jobs: scheduler,
      ...(this.#spinWatchdog ? { watchdog: this.#spinWatchdog } : {}),
      isolation: { pool: this.#workers, all: this.config.fnIsolation === 'all' },
    });
    this.jobs = new JobWorker({
      store: this.store,
      runner: this.functions,
      registry: this.#functionRegistry,
      scheduler,
      logger: this.logger,
      now,
      pollMs: this.config.jobPoll,
      // A lease outlives every deadline of the call it covers (an action and the mutation it runs).
      leaseMs: Math.max(this.config.jobLease, this.config.fnTimeout + this.config.fnMutationTimeout + 1000),
      concurrency: this.config.jobConcurrency,
      backoffMs: this.config.jobBackoff,
    });
    registerJobRoutes(this.http, { store: this.store, registry: this.#functionRegistry, now, onEnqueued: () => this.jobs.kick() });
    const fnRateLimit = new FunctionRateLimit(this.#functionRegistry, this.config.fnRateLimit);
    this.#functionStreams = registerFunctionRoutes(this.http, { runner: this.functions, registry: this.#functionRegistry, bus: this.bus, rateLimit: fnRateLimit, keepAliveMs: this.config.wsPingInterval, maxBufferedBytes: this.config.wsMaxBuffered, streams: this.#streams });
    registerPolicyRoutes(this.http, { schema: this.schema, store: this.store });
    this.live = new LiveEngine({
      store: this.store,
      schema: this.schema,
      bus: this.bus,
      limits,
      access: options.liveAccess ?? {
        canRead: (auth, entity, row) => auth.isAdmin || this.schema.access.canRead(auth, entity, row),
        scopeOf: (auth) => this.schema.access.scopeOf(auth),
        readFilter: (auth, entity) => (auth.isAdmin ? true : this.schema.access.readFilter(auth, entity)),
      },
      maxSubscriptions: this.config.liveMaxSubscriptions,
      onError: (err) => this.logger.error({ err }, 'live query update failed'),
    });
    this.rooms = new RoomHub({
      maxRoomsPerSink: this.config.roomMaxPerSocket,
      maxMembers: this.config.roomMaxMembers,
      maxPresenceBytes: this.config.roomMaxPresence,
      maxMessageBytes: this.config.roomMaxMessage,
      presenceTtlMs: this.config.roomPresenceTtl,
      allowGuests: this.config.roomAllowGuests,
      canJoin: options.roomAccess,
      seq: () => this.live.seq,
    });
    this.sockets = new LiveSocketServer({
      live: this.live,
      crdt: this.crdt,
      rooms: this.rooms,
      counters: sent,
      cookie,
      functions: { runner: this.functions, rateLimit: fnRateLimit, bus: this.bus, maxWatches: this.config.fnMaxWatches, openWatches: new OpenWatches() },
      authenticate: (token) => this.authenticator.resolve(token),
      maxPayload: this.config.wsMaxFrame,
      messagesPerSecond: this.config.wsMessageRate,
      maxSocketsPerIp: this.config.wsMaxSocketsPerIp,
      maxSocketsPerUser: this.config.wsMaxSocketsPerUser,
      maxBufferedBytes: this.config.wsMaxBuffered,
      pingIntervalMs: this.config.wsPingInterval,
      trustProxy: this.config.trustProxy,
      logger: this.logger,
    });
    this.sockets.attach(this.http.server, '/ws');
    // Sign-out and revocation end the session's open sockets too, not only its next request.
    this.sessions.onRevoke((event) => {
      this.sockets.closeRevoked(event);
      this.#streams.closeRevoked(event);
    });
    this.#events = registerEventsRoutes(this.http, { live: this.live, maxBufferedBytes: this.config.wsMaxBuffered, keepAliveMs: this.config.wsPingInterval, streams: this.#streams });
  }

  /** Opens the store, migrates it to the schema and builds the server (not yet listening). */
  static async create(options: MastServerOptions): Promise<MastServer> {
    const logger =
      options.logger ??
      pino({ level: options.config.logLevel, redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.adminToken', '*.smtpUrl', '*.jwtSecret'], censor: '[redacted]' } });
    // Policies compile before anything touches the database: a bad rule changes nothing.
    const schemaRef = new SchemaRef(options.schema);
    // So does the JWT configuration: a half-done one is refused at start, not on a request.
    const jwt = jwtOptionsFromConfig(options.config);
    const providers = (options.oauthProviders ?? oauthProvidersFromEnv(options.config.oauthProviders, process.env)).map(checkProvider);
    const store = options.store ?? (await openStore(options.config.databaseUrl, options.appDir, { exclusive: true }));
    try {
      const plan = await migrateStore(store, options.schema, { allowDestructive: options.config.allowDestructive });
      if (plan.length > 0) logger.info({ plan }, 'database migrated');
    } catch (err) {
      await store.close();
      throw err;
    }
    const server = new MastServer({ ...options, store, logger, schemaRef, jwt, providers });
    try {
      await server.reloadFunctions({ fresh: false });
    } catch (err) {
      await store.close();
      throw err;
    }
    return server;
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
    this.#functionRegistry.use(set);
    const isolated = [...set.functions.values()].filter((f) => this.config.fnIsolation === 'all' || f.definition.isolated === true);
    this.#workers.preload(isolated.map((f) => f.url));
    if (isolated.length > 0) this.#workers.warm();
    // Up before any call: a watchdog thread started while a handler blocks the loop never runs.
    if (isolated.length < set.functions.size) this.#spinWatchdog?.start();
    return set;
  }

  /**
   * What the app declares that the last load left out (function files that failed to import or
   * export no function, crons that cannot run), one line each naming the file; `/health`
   * answers 503 while it is not empty, and `mast start` refuses to serve.
   */
  get loadProblems(): readonly string[] {
    return this.#loadProblems;
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    // Ready means ready: the first isolated call finds its worker started (bounded, so a worker
    // that is slow to start delays the port at most a few seconds; calls then wait for it).
    await Promise.race([this.#workers.whenWarm(), new Promise((resolve) => setTimeout(resolve, WARM_WAIT_MS).unref())]);
    await this.live.start();
    await this.http.listen({ port: this.config.port, host: this.config.host });
    const port = (this.http.server.address() as AddressInfo).port;
    if (this.config.wsCompatPort) this.#compatServer = await this.sockets.listenCompat(port + 1, this.config.host);
    this.#pruneTimer = setInterval(() => void this.pruneChangeLog(), PRUNE_INTERVAL_MS);
    this.#pruneTimer.unref();
    this.jobs.start();
    return port;
  }

  /** Applies change-log retention (and drops expired sessions and old finished jobs) now; returns how many entries went. */
  async pruneChangeLog(): Promise<number> {
    try {
      await this.store.sessions.pruneExpired(Date.now());
      await this.store.oauthStates.pruneExpired(Date.now());
      await this.store.write((tx) => tx.auth.pruneAuth(Date.now()));
      await this.store.jobs.prune(this.#now() - this.config.jobRetention);
      return await this.store.pruneChanges({ maxAgeMs: this.config.changeRetention, maxEntries: this.config.changeMaxEntries });
    } catch (err) {
      this.logger.error({ err }, 'change-log retention failed');
      return 0;
    }
  }

  /** Serves a new schema after migrating to it (dev reload); the old one stays on failure. */
  async reload(schema: AppSchema): Promise<string[]> {
    const access = new AccessControl(schema);
    const plan = await migrateStore(this.store, schema, { allowDestructive: this.config.allowDestructive });
    this.schema.use(schema, access);
    return plan;
  }

  /**
   * Graceful stop: refuses new requests with 503, waits for those in flight (at most
   * `shutdownGrace`), then closes the store after its write queue drains.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#pruneTimer);
      const grace = setTimeout(() => this.http.server.closeAllConnections(), this.config.shutdownGrace);
      grace.unref();
      try {
        this.#events.closeAll();
        this.#functionStreams.closeAll();
        await this.sockets.close(this.config.shutdownGrace);
        if (this.#compatServer) await new Promise((resolve) => this.#compatServer!.close(resolve));
        await this.http.close();
        await this.jobs.stop();
        await this.live.stop();
        this.rooms.stop();
      } finally {
        clearTimeout(grace);
        await this.#workers.close();
        await this.store.close();
      }
    })();
    return this.#closing;
  }
}
