import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger } from '../core/logger.js';
import type { AppSchema } from '@mast/schema';
import type { MastConfig } from '../config/index.js';
import { jwtOptionsFromConfig } from '../auth/jwt-verifier.js';
import { checkProvider, oauthProvidersFromEnv, type OAuthProviderConfig } from '../auth/oauth-providers.js';
import type { AccountService } from '../auth/accounts.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { Mailer } from '../auth/mailer.js';
import type { LocalAuth } from '../auth/local-auth.js';
import type { SessionService } from '../auth/session-service.js';
import type { ChangeBus } from '../changes/change-bus.js';
import type { EntityReader } from '../entities/entity-reader.js';
import { SchemaRef } from '../access/schema-ref.js';
import type { WritePath } from '../entities/write-path.js';
import type { CrdtHub, RowDocs } from '../crdt/index.js';
import { MastCore } from '../core/core.js';
import { cookieOptions, mountHttp, type HttpTransport } from '../http/mount-http.js';
import type { FunctionRunner, FunctionSet, JobWorker } from '../functions/index.js';
import type { LiveAccess } from '../live/live-access.js';
import type { LiveEngine } from '../live/live-engine.js';
import type { RoomHub, RoomAccess } from '../live/room-hub.js';
import type { Store } from '../store/index.js';
import { attachSockets } from '../ws/attach-sockets.js';
import type { LiveSocketServer } from '../ws/ws-server.js';
import { openStore } from './open-store.js';

/** Mast's version, reported by `/health`. */
export const MAST_VERSION = '0.1.0';

/** How often change-log retention runs. */
const PRUNE_INTERVAL_MS = 60_000;

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
  /** The clock of jobs, cron schedules and retention, ms since the epoch (default `Date.now`; tests move it). */
  readonly now?: () => number;
}

/**
 * One running Mast backend: a core (`core/core.ts`) with its two transports mounted, HTTP
 * (`http/mount-http.ts`) and WebSocket (`ws/attach-sockets.ts`), plus the retention timer.
 * The service fields are the core's, kept here for callers that hold a server.
 */
export class MastServer {
  readonly core: MastCore;
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
  readonly #transport: HttpTransport;
  #compatServer: Server | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  private constructor(core: MastCore) {
    this.core = core;
    this.config = core.config;
    this.store = core.store;
    this.schema = core.schema;
    this.bus = core.bus;
    this.writes = core.writes;
    this.docs = core.docs;
    this.crdt = core.crdt;
    this.reader = core.reader;
    this.sessions = core.sessions;
    this.authenticator = core.authenticator;
    this.accounts = core.accounts;
    this.mailer = core.mailer;
    this.localAuth = core.localAuth;
    this.logger = core.logger;
    this.live = core.live;
    this.rooms = core.rooms;
    this.functions = core.functions;
    this.jobs = core.jobs;
    // The socket server exists only once HTTP does; /metrics reads it through this getter.
    let sockets: LiveSocketServer | undefined;
    this.#transport = mountHttp(core, {
      version: MAST_VERSION,
      gauges: () => ({
        sockets: sockets?.size ?? 0,
        subscriptions: core.live.subscriptionCount,
        fnWatches: sockets?.watchCount ?? 0,
        queries: core.live.queryCount,
        rooms: core.rooms.roomCount,
        roomMembers: core.rooms.memberCount,
        framesSent: core.sent.frames,
        bytesSent: core.sent.bytes,
        closes: sockets?.closes() ?? {},
      }),
    });
    this.http = this.#transport.app;
    sockets = attachSockets(core, this.http.server, { cookie: cookieOptions(core.config) });
    this.sockets = sockets;
  }

  /** Opens the store, migrates it to the schema and builds the server (not yet listening). */
  static async create(options: MastServerOptions): Promise<MastServer> {
    const logger = options.logger ?? createLogger(options.config);
    // Policies compile before anything touches the database: a bad rule changes nothing.
    const schema = new SchemaRef(options.schema);
    // So does the JWT configuration: a half-done one is refused at start, not on a request.
    const jwt = jwtOptionsFromConfig(options.config);
    const oauthProviders = (options.oauthProviders ?? oauthProvidersFromEnv(options.config.oauthProviders, process.env)).map(checkProvider);
    const store = options.store ?? (await openStore(options.config.databaseUrl, options.appDir, { exclusive: true }));
    const now = options.now;
    const core = await MastCore.create({
      appDir: options.appDir,
      schema,
      config: options.config,
      store,
      logger,
      jwt,
      oauthProviders,
      ...(now ? { clock: { now } } : {}),
      ...(options.liveAccess ? { liveAccess: options.liveAccess } : {}),
      ...(options.roomAccess ? { roomAccess: options.roomAccess } : {}),
    });
    return new MastServer(core);
  }

  /**
   * Loads `<appDir>/functions/*.ts` again and serves the result; calls in flight finish with the
   * definitions they started with. Files that fail are logged (file and line) and left out.
   */
  reloadFunctions(options: { fresh?: boolean } = {}): Promise<FunctionSet> {
    return this.core.reloadFunctions(options);
  }

  /**
   * What the app declares that the last load left out (function files that failed to import or
   * export no function, crons that cannot run), one line each naming the file; `/health`
   * answers 503 while it is not empty, and `mast start` refuses to serve.
   */
  get loadProblems(): readonly string[] {
    return this.core.loadProblems;
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    await this.core.start();
    await this.http.listen({ port: this.config.port, host: this.config.host });
    const port = (this.http.server.address() as AddressInfo).port;
    if (this.config.wsCompatPort) this.#compatServer = await this.sockets.listenCompat(port + 1, this.config.host);
    this.#pruneTimer = setInterval(() => void this.pruneChangeLog(), PRUNE_INTERVAL_MS);
    this.#pruneTimer.unref();
    return port;
  }

  /** Applies change-log retention (and drops expired sessions and old finished jobs) now; returns how many entries went. */
  async pruneChangeLog(): Promise<number> {
    try {
      return await this.core.prune();
    } catch (err) {
      this.logger.error({ err }, 'change-log retention failed');
      return 0;
    }
  }

  /** Serves a new schema after migrating to it (dev reload); the old one stays on failure. */
  reload(schema: AppSchema): Promise<string[]> {
    return this.core.reload(schema);
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
        this.#transport.closeStreams();
        await this.sockets.close(this.config.shutdownGrace);
        if (this.#compatServer) await new Promise((resolve) => this.#compatServer!.close(resolve));
        await this.http.close();
      } finally {
        clearTimeout(grace);
        await this.core.stop();
      }
    })();
    return this.#closing;
  }
}
