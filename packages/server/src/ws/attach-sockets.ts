import type { Server } from 'node:http';
import type { MastCore } from '../core/core.js';
import { OpenWatches } from '../session/functions.js';
import { LiveSocketServer } from './ws-server.js';

/** What the socket transport needs beyond the core. */
export interface SocketMountOptions {
  /** The session cookie read on the upgrade when no token is given. */
  readonly cookie: { readonly name: string; readonly trustedOrigins: readonly string[] };
}

/**
 * The WebSocket transport of a core, attached to an HTTP server at `/ws`: live queries, CRDT
 * rows, rooms and function calls. Sockets keep the identity they connected with, so a revoked
 * session or a changed org access closes the sockets concerned.
 */
export function attachSockets(core: MastCore, server: Server, options: SocketMountOptions): LiveSocketServer {
  const { config } = core;
  const sockets = new LiveSocketServer({
    live: core.live,
    crdt: core.crdt,
    rooms: core.rooms,
    counters: core.sent,
    cookie: options.cookie,
    functions: { runner: core.functions, rateLimit: core.fnRateLimit, bus: core.bus, maxWatches: config.fnMaxWatches, openWatches: new OpenWatches() },
    authenticate: (token) => core.authenticator.resolve(token),
    connections: core.connections,
    maxPayload: config.wsMaxFrame,
    messagesPerSecond: config.wsMessageRate,
    maxSocketsPerIp: config.wsMaxSocketsPerIp,
    maxSocketsPerUser: config.wsMaxSocketsPerUser,
    maxBufferedBytes: config.wsMaxBuffered,
    jsonLimits: core.writes.jsonLimits,
    pingIntervalMs: config.wsPingInterval,
    trustProxy: config.trustProxy,
    logger: core.logger,
  });
  sockets.attach(server, '/ws');
  return sockets;
}
