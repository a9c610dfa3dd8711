import type { FastifyInstance } from 'fastify';
import type { MastCore } from '../core/core.js';
import type { LiveStats } from '../metrics/metrics.js';
import { registerAdminRoutes } from './admin-routes.js';
import { registerApiKeyRoutes } from './api-key-routes.js';
import { registerAuthRoutes, requestAuthenticator, type CookieOptions } from './auth-routes.js';
import { registerCrdtRoutes } from './crdt-routes.js';
import { registerEntityRoutes } from './entities-routes.js';
import { registerEventsRoutes, type EventStreams } from './events-routes.js';
import { registerFunctionRoutes, type FunctionStreams } from './functions-routes.js';
import { createHttpServer } from './http-server.js';
import { registerLocalAuthRoutes } from './local-auth-routes.js';
import { registerOAuthRoutes } from './oauth-routes.js';
import { registerOrgRoutes } from './org-routes.js';
import { registerSyncRoutes } from './sync-routes.js';
import { registerStaticRoutes } from './static-routes.js';
import { registerSystemRoutes } from './system-routes.js';
import { resolve } from 'node:path';

/** The HTTP transport of a core: the Fastify instance and the streams shutdown must end. */
export interface HttpTransport {
  readonly app: FastifyInstance;
  /** Ends every open long-lived stream (live-query SSE, function watches and streamed calls). */
  closeStreams(): void;
}

/** What the HTTP transport needs beyond the core. */
export interface HttpMountOptions {
  /** Reported by `/health`. */
  readonly version: string;
  /** Gauges `/metrics` reads from the other transports (sockets, frames sent). */
  readonly gauges: () => LiveStats;
}

/** How the session cookie is named and sent, from the config. */
export function cookieOptions(config: MastCore['config']): CookieOptions {
  return {
    name: config.cookieName,
    secure: !config.dev,
    trustedOrigins: (config.trustedOrigins ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== ''),
  };
}

/**
 * Builds the HTTP server of a core and mounts every route group on it, each from its own file:
 * system, entities, sync, CRDT, auth (sessions, local accounts, OAuth, API keys, orgs),
 * functions, live-query SSE, the admin group behind its one check, and the app's built web
 * assets at `/` (`static-routes.ts`).
 */
export function mountHttp(core: MastCore, options: HttpMountOptions): HttpTransport {
  const { config } = core;
  const cookie = cookieOptions(config);
  const app = createHttpServer({
    bodyLimit: config.bodyLimit,
    jsonLimits: core.writes.jsonLimits,
    authenticate: requestAuthenticator(core.authenticator, cookie),
    corsOrigin: config.corsOrigin ?? (config.dev ? '*' : null),
    logger: core.logger,
    requestLogLevel: config.dev ? 'info' : 'debug',
    metrics: core.metrics,
    rateLimit: config.rateLimit,
    maxConnections: config.maxConnections,
    trustProxy: config.trustProxy,
  });
  registerSystemRoutes(app, {
    version: options.version,
    dev: config.dev,
    schema: core.schema,
    metrics: core.metrics,
    problems: () => core.loadProblems,
    gauges: {
      changeLogHead: async () => (await core.store.changeLogBounds()).head,
      dbSizeBytes: () => core.store.sizeBytes(),
      live: options.gauges,
    },
  });
  registerEntityRoutes(app, { reader: core.reader, writes: core.writes, batchMaxOps: config.batchMaxOps });
  registerSyncRoutes(app, core.sync);
  registerCrdtRoutes(app, { writes: core.writes, maxUpdateBytes: config.bodyLimit });
  registerAuthRoutes(app, core.sessions, cookie, {
    dev: config.dev,
    limitGuest: (ip) => core.localAuth.limitGuest(ip),
    profile: (id) => core.accounts.profile(id),
  });
  registerLocalAuthRoutes(app, core.localAuth, cookie, core.outbox);
  registerOAuthRoutes(app, { oauth: core.oauth, cookie, publicUrl: config.publicUrl, rateLimit: config.authRateLimit, limits: core.authLimits });
  registerApiKeyRoutes(app, { apiKeys: core.apiKeys, rateLimit: config.authRateLimit, limits: core.authLimits, clock: core.clock });
  registerOrgRoutes(app, { orgs: core.orgs, sessions: core.sessions, rateLimit: config.authRateLimit, limits: core.authLimits });
  const functionStreams: FunctionStreams = registerFunctionRoutes(app, {
    runner: core.functions,
    bus: core.bus,
    rateLimit: core.fnRateLimit,
    keepAliveMs: config.wsPingInterval,
    maxBufferedBytes: config.wsMaxBuffered,
    streams: core.connections,
  });
  const events: EventStreams = registerEventsRoutes(app, {
    live: core.live,
    maxBufferedBytes: config.wsMaxBuffered,
    keepAliveMs: config.wsPingInterval,
    streams: core.connections,
  });
  registerAdminRoutes(app, {
    store: core.store,
    schema: core.schema,
    registry: core.registry,
    now: () => core.clock.now(),
    onEnqueued: () => core.jobs.kick(),
    dev: config.dev,
  });
  // Last: the page's files and its index.html fallback, behind every API route.
  registerStaticRoutes(app, { root: resolve(core.appDir, config.publicDir ?? 'public') });
  return {
    app,
    closeStreams: () => {
      events.closeAll();
      functionStreams.closeAll();
    },
  };
}
