import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AuthedConnections } from '../auth/access-events.js';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeCodes, type CloseCodeName } from '@mast/protocol';
import type { AuthContext } from '../access/auth-context.js';
import { toAppError } from '../errors/index.js';
import type { LiveEngine } from '../live/live-engine.js';
import { LiveConnection, type ConnectionLimits } from '../session/connection.js';
import { RawFrameWriter } from './raw-frame-writer.js';
import type { CrdtHub } from '../crdt/crdt-hub.js';
import type { RoomHub } from '../live/room-hub.js';
import type { SendCounters } from '../metrics/metrics.js';
import type { SocketFunctions } from '../session/functions.js';
import { readCookie } from '../auth/cookies.js';
import { chooseProtocol, clientAddress, cookieOriginAllowed, handshakeToken } from './ws-auth.js';

/** Settings of the WebSocket transport. */
export interface SocketServerOptions extends ConnectionLimits {
  readonly live: LiveEngine;
  /** CRDT row sync (`crdt-*` messages and binary frames); without it binary frames are refused. */
  readonly crdt?: CrdtHub;
  /** Rooms, presence and topics (`join`, `leave`, `presence`, `broadcast`). */
  readonly rooms?: RoomHub;
  /** Counts what every socket writes (metrics). */
  readonly counters?: SendCounters;
  /**
   * The session cookie, read on the upgrade when no token is given. A browser sends the cookie
   * from any page that opens a socket to this host, so the upgrade's Origin must be this host
   * or a trusted origin (close 4003 otherwise); a handshake without Origin is not a browser's.
   */
  readonly cookie?: { readonly name: string; readonly trustedOrigins: readonly string[] };
  /** Serves `fn-call`, `fn-cancel`, `fn-watch` and `fn-unwatch`; without it calls and watches answer FN_NOT_FOUND. */
  readonly functions?: SocketFunctions;
  /**
   * Resolves a handshake's token (null: none). Throws SESSION_EXPIRED (close 4002) or another
   * 401 AppError (INVALID_TOKEN, INVALID_API_KEY, INVALID_JWT: close 4001) for a token it rejects.
   */
  readonly authenticate: (token: string | null) => Promise<AuthContext>;
  /** Where started sockets register, so a revocation (4001) or an org access change (4012) closes them. */
  readonly connections: AuthedConnections;
  /** Largest frame a client may send, in bytes (above it: close 1009). */
  readonly maxPayload: number;
  /** Open sockets per client address; one more is closed with 4009. */
  readonly maxSocketsPerIp: number;
  /** Open sockets per signed-in user (the admin token excepted); one more is closed with 4011. */
  readonly maxSocketsPerUser: number;
  /** Ping period; a socket that has not answered the previous ping is dropped. */
  readonly pingIntervalMs: number;
  readonly trustProxy: number;
  readonly logger: Logger;
}

/**
 * The WebSocket transport: handshake (token, per-address cap), heartbeats and shutdown. It is a
 * thin shell; every message goes to a LiveConnection and from there to the live engine.
 */
export class LiveSocketServer {
  readonly #options: SocketServerOptions;
  readonly #wss: WebSocketServer;
  readonly #perAddress = new Map<string, number>();
  readonly #perUser = new Map<string, number>();
  readonly #connections = new Set<LiveConnection>();
  /** Bumped by every revocation and access change; a socket whose authentication spanned one resolves again. */
  readonly #sockets = new Set<WebSocket>();
  readonly #closedWith = new Map<CloseCodeName, number>();
  readonly #ping: NodeJS.Timeout;
  #closing = false;

  constructor(options: SocketServerOptions) {
    this.#options = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      perMessageDeflate: false,
      handleProtocols: (protocols) => chooseProtocol(protocols),
    });
    this.#ping = setInterval(() => this.#heartbeat(), options.pingIntervalMs);
    this.#ping.unref();
  }

  /** Open sockets. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Query-function watches open on all sockets (for metrics and tests). */
  get watchCount(): number {
    return this.#options.functions?.openWatches.count ?? 0;
  }

  /** How many sockets the server closed with a named code (for metrics and tests). */
  closedWith(name: CloseCodeName): number {
    return this.#closedWith.get(name) ?? 0;
  }

  /** Closes by code name, every name listed (for metrics). */
  closes(): Record<CloseCodeName, number> {
    const out = {} as Record<CloseCodeName, number>;
    for (const name of Object.keys(closeCodes) as CloseCodeName[]) out[name] = this.closedWith(name);
    return out;
  }

  /** Serves upgrades on `server` at `path` (any path when null); other upgrades get 404. */
  attach(server: Server, path: string | null): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const pathname = (request.url ?? '/').split('?')[0];
      if (this.#closing || (path !== null && pathname !== path)) {
        socket.end(`HTTP/1.1 ${this.#closing ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      try {
        this.#wss.handleUpgrade(request, socket, head, (ws) => {
          try {
            this.#accept(ws, request);
          } catch (err) {
            // Whatever the handshake held, the process stays up: the socket goes, logged.
            this.#options.logger.error({ err }, 'socket handshake failed');
            ws.close(closeCodes.GOING_AWAY.code, closeCodes.GOING_AWAY.reason);
          }
        });
      } catch (err) {
        this.#options.logger.error({ err }, 'socket upgrade failed');
        socket.destroy();
      }
    });
  }

  /** Serves the WebSocket alone on another port, on any path, as Pylon's clients expect. */
  async listenCompat(port: number, host: string): Promise<Server> {
    const server = createServer((_request, response) => {
      response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('This port only serves WebSocket upgrades\n');
    });
    this.attach(server, null);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server;
  }

  /** Closes every socket with 1001, waiting at most `graceMs` before dropping the rest. */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    clearInterval(this.#ping);
    const closed = [...this.#sockets].map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
    for (const ws of this.#sockets) ws.close(closeCodes.GOING_AWAY.code, closeCodes.GOING_AWAY.reason);
    const timer = setTimeout(() => {
      for (const ws of this.#sockets) ws.terminate();
    }, graceMs);
    await Promise.all(closed);
    clearTimeout(timer);
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #accept(ws: WebSocket, request: IncomingMessage): void {
    const address = clientAddress(request, this.#options.trustProxy);
    const count = (this.#perAddress.get(address) ?? 0) + 1;
    if (count > this.#options.maxSocketsPerIp) {
      this.#closedWith.set('TOO_MANY_CONNECTIONS', this.closedWith('TOO_MANY_CONNECTIONS') + 1);
      ws.close(closeCodes.TOO_MANY_CONNECTIONS.code, closeCodes.TOO_MANY_CONNECTIONS.reason);
      return;
    }
    this.#perAddress.set(address, count);
    this.#sockets.add(ws);
    const connection = new LiveConnection({
      id: randomUUID(),
      socket: ws,
      live: this.#options.live,
      limits: this.#options,
      logger: this.#options.logger,
      onClose: (name) => this.#closedWith.set(name, this.closedWith(name) + 1),
      crdt: this.#options.crdt,
      rooms: this.#options.rooms,
      counters: this.#options.counters,
      functions: this.#options.functions,
      raw: RawFrameWriter.for(ws),
    });
    this.#connections.add(connection);
    ws.once('close', () => {
      this.#sockets.delete(ws);
      this.#connections.delete(connection);
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(address, left);
      else this.#perAddress.delete(address);
    });
    let token = handshakeToken(request);
    const cookie = this.#options.cookie;
    const fromCookie = token === null && cookie ? readCookie(request.headers.cookie, cookie.name) : null;
    if (fromCookie !== null) {
      if (!cookieOriginAllowed(request, cookie!.trustedOrigins)) {
        connection.close('FORBIDDEN_ORIGIN');
        return;
      }
      token = fromCookie;
    }
    // A revocation or access change while the token resolves may not be reflected in what it
    // resolved to: resolve again after one, so the socket starts under current access.
    const authenticate = async (): Promise<AuthContext | null> => {
      for (let tries = 0; tries < 5; tries++) {
        const epoch = this.#options.connections.epoch;
        const auth = await this.#options.authenticate(token);
        if (epoch === this.#options.connections.epoch) return auth;
      }
      return null; // access keeps changing: the client reconnects later
    };
    authenticate().then(
      (auth) => {
        if (auth === null) connection.close('GOING_AWAY');
        else if (this.#admitUser(auth, ws)) {
          const unregister = this.#options.connections.add(auth, (code) => connection.close(code), { expire: false });
          ws.once('close', unregister);
          connection.start(auth);
        } else connection.close('TOO_MANY_USER_CONNECTIONS');
      },
      (err: unknown) => {
        const error = toAppError(err);
        if (error.code === 'SESSION_EXPIRED') connection.close('SESSION_EXPIRED');
        else if (error.status === 401)
          connection.close('UNAUTHORIZED'); // any refused credential: session, API key, JWT
        else {
          this.#options.logger.error({ err }, 'socket authentication failed');
          connection.close('GOING_AWAY');
        }
      },
    );
  }

  /** Counts a signed-in user's socket against its cap; false when it is over (nothing counted). */
  #admitUser(auth: AuthContext, ws: WebSocket): boolean {
    const userId = auth.userId;
    if (userId === null || auth.isAdmin || ws.readyState !== ws.OPEN) return true;
    const count = (this.#perUser.get(userId) ?? 0) + 1;
    if (count > this.#options.maxSocketsPerUser) return false;
    this.#perUser.set(userId, count);
    ws.once('close', () => {
      const left = (this.#perUser.get(userId) ?? 1) - 1;
      if (left > 0) this.#perUser.set(userId, left);
      else this.#perUser.delete(userId);
    });
    return true;
  }

  #heartbeat(): void {
    for (const connection of this.#connections) {
      if (!connection.alive) connection.terminate();
      else connection.ping();
    }
  }
}
