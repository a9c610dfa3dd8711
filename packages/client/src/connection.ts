import { closeCodes, PROTOCOL_VERSION } from '@mast/protocol';
import { MastClientError } from './errors.js';

/** The part of the WebSocket API the client uses (the browser's, or `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** A WebSocket constructor: the global one in browsers, `ws`'s `WebSocket` in Node 20. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * Where the connection is: `connecting` (socket opening, waiting for `hello`), `resuming`
 * (`resume` sent, its `ack` not yet in), `open`, `offline` (down, a reconnect is scheduled),
 * `closed` (by `close()`, or for good: another protocol version, a refused token, a refused
 * origin).
 */
export type ConnectionState = 'connecting' | 'resuming' | 'open' | 'offline' | 'closed';

/** Reconnect timing: exponential from `baseMs` up to `maxMs`, with jitter; `pauseMs` at least after a limit close. */
export interface BackoffOptions {
  readonly baseMs?: number;
  readonly maxMs?: number;
  readonly pauseMs?: number;
}

/** What the connection tells its owner. */
export interface ConnectionHooks {
  /** The token to open the next socket with (null: anonymous). */
  token(): Promise<string | null>;
  /** The server refused the token (4001) or the session expired (4002): true to reconnect with a new one. */
  authFailed(code: 4001 | 4002): Promise<boolean>;
  /** `hello` of a server of this protocol version arrived on a new socket. */
  hello(seq: number): void;
  message(message: Record<string, unknown>): void;
  binary(bytes: Uint8Array): void;
  /** The socket went away (before a reconnect, or for good). */
  down(): void;
  state(state: ConnectionState, error: MastClientError | null): void;
}

const LIMIT_CODES: ReadonlySet<number> = new Set([closeCodes.RATE_LIMITED.code, closeCodes.TOO_MANY_CONNECTIONS.code, closeCodes.TOO_MANY_USER_CONNECTIONS.code]);
const FATAL_CODES: ReadonlySet<number> = new Set([closeCodes.FORBIDDEN_ORIGIN.code]);

/**
 * One socket at a time and the state machine around it: `hello` with the protocol check,
 * reconnect with exponential backoff and jitter, the close codes of `docs/protocol.md` acted on.
 * It knows nothing of queries: its owner resumes them on `hello`.
 */
export class Connection {
  readonly #url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #hooks: ConnectionHooks;
  readonly #backoff: Required<BackoffOptions>;
  #ws: WebSocketLike | null = null;
  #state: ConnectionState = 'connecting';
  #error: MastClientError | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #generation = 0;
  #closedByUser = false;
  #detachOnline: (() => void) | undefined;
  /** Down because the device is offline: only the `online` event reconnects. */
  #waitingOnline = false;

  constructor(url: string, WebSocket: WebSocketConstructor, hooks: ConnectionHooks, backoff: BackoffOptions = {}) {
    this.#url = url;
    this.#WebSocket = WebSocket;
    this.#hooks = hooks;
    this.#backoff = { baseMs: backoff.baseMs ?? 250, maxMs: backoff.maxMs ?? 30_000, pauseMs: backoff.pauseMs ?? 5_000 };
    this.#watchOnline();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Why the connection is down or closed, when it is. */
  get error(): MastClientError | null {
    return this.#error;
  }

  /** Opens the first socket. */
  start(): void {
    void this.#open();
  }

  /** Sends a JSON message; false when no socket is open (the caller resends after `hello`). */
  send(message: Record<string, unknown>): boolean {
    if (!this.#ws || this.#ws.readyState !== 1 || this.#state === 'connecting') return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  /** Sends a binary frame; false when no socket is open. */
  sendBinary(bytes: Uint8Array): boolean {
    if (!this.#ws || this.#ws.readyState !== 1 || this.#state === 'connecting') return false;
    this.#ws.send(bytes);
    return true;
  }

  /** The owner finished (or needs no) resume: the connection is open. */
  markOpen(): void {
    this.#attempt = 0;
    this.#set('open', null);
  }

  /** The owner sent `resume`. */
  markResuming(): void {
    this.#set('resuming', null);
  }

  /**
   * Drops the socket and opens a new one at once (a new token, access changed); also revives a
   * connection stopped by a refused token, never one closed by `close()`.
   */
  reconnect(): void {
    if (this.#closedByUser) return;
    this.#stopped = false;
    this.#waitingOnline = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) this.#detach(ws, 4000, 'reconnect');
    void this.#open();
  }

  /** Closes for good. */
  close(): void {
    this.#closedByUser = true;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#detachOnline?.();
    const ws = this.#ws;
    this.#ws = null;
    if (ws) this.#detach(ws, 1000, 'client closed');
    this.#set('closed', null);
  }

  async #open(): Promise<void> {
    if (this.#stopped) return;
    // A later open (a reconnect while this one awaited its token) supersedes this one.
    const generation = ++this.#generation;
    this.#set('connecting', this.#error);
    let token: string | null;
    try {
      token = await this.#hooks.token();
    } catch (err) {
      if (generation === this.#generation)
        this.#retry(new MastClientError('AUTH_FAILED', `The token provider failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }), false);
      return;
    }
    if (this.#stopped || generation !== this.#generation) return;
    if (deviceOffline()) {
      // A socket opened now would wait out a network timeout; the `online` event reopens it.
      this.#waitForOnline();
      return;
    }
    let ws: WebSocketLike;
    try {
      // Browsers cannot set headers on a socket: the token travels as a subprotocol.
      ws = new this.#WebSocket(this.#url, token ? [`bearer.${encodeURIComponent(token)}`] : []);
    } catch (err) {
      this.#retry(new MastClientError('NETWORK', `Could not open ${this.#url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }), false);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    let greeted = false;
    ws.onmessage = (ev) => {
      if (this.#ws !== ws) return;
      const data = ev.data;
      if (typeof data !== 'string') {
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
        if (bytes) this.#hooks.binary(bytes);
        return;
      }
      let message: unknown;
      try {
        message = JSON.parse(data);
      } catch {
        return; // the server sends JSON; a frame that is not is ignored rather than fatal
      }
      if (typeof message !== 'object' || message === null) return;
      const m = message as Record<string, unknown>;
      if (!greeted) {
        if (m.type !== 'hello') return;
        greeted = true;
        if (m.protocol !== PROTOCOL_VERSION) {
          // Another protocol: reconnecting would meet the same server again. Stop here.
          this.#stopped = true;
          this.#ws = null;
          this.#detach(ws, 1000, 'protocol mismatch');
          this.#hooks.down();
          this.#set(
            'closed',
            new MastClientError(
              'PROTOCOL_MISMATCH',
              `The server speaks realtime protocol ${String(m.protocol)}; this client speaks ${PROTOCOL_VERSION}. Update the client (or the server) so they match.`,
            ),
          );
          return;
        }
        this.#error = null;
        this.#hooks.hello(typeof m.seq === 'number' ? m.seq : 0);
        return;
      }
      this.#hooks.message(m);
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#hooks.down();
      void this.#closed(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // The close event follows and decides; nothing to do here.
    };
  }

  async #closed(code: number, reason: string): Promise<void> {
    if (this.#stopped) return;
    if (code === closeCodes.UNAUTHORIZED.code || code === closeCodes.SESSION_EXPIRED.code) {
      const error = new MastClientError(
        code === 4001 ? 'UNAUTHORIZED' : 'SESSION_EXPIRED',
        reason || (code === 4001 ? closeCodes.UNAUTHORIZED.reason : closeCodes.SESSION_EXPIRED.reason),
      );
      this.#set('offline', error);
      let again = false;
      try {
        again = await this.#hooks.authFailed(code);
      } catch {
        again = false;
      }
      if (this.#stopped) return;
      if (again) {
        this.#attempt = 0;
        void this.#open();
      } else {
        this.#stopped = true;
        this.#set('closed', new MastClientError('AUTH_FAILED', `${error.message}; no new token was given`));
      }
      return;
    }
    if (FATAL_CODES.has(code)) {
      this.#stopped = true;
      this.#set('closed', new MastClientError('FORBIDDEN_ORIGIN', reason || closeCodes.FORBIDDEN_ORIGIN.reason));
      return;
    }
    const error = new MastClientError('CONNECTION_LOST', `The socket closed (${code}${reason ? `: ${reason}` : ''})`, { details: { closeCode: code } });
    this.#retry(error, LIMIT_CODES.has(code));
  }

  #retry(error: MastClientError, pause: boolean): void {
    if (this.#stopped) return;
    const exp = Math.min(this.#backoff.maxMs, this.#backoff.baseMs * 2 ** this.#attempt++);
    const jittered = exp / 2 + Math.random() * (exp / 2);
    const delay = pause ? Math.max(jittered, this.#backoff.pauseMs) : jittered;
    this.#set('offline', error);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#open();
    }, delay);
  }

  #detach(ws: WebSocketLike, code: number, reason: string): void {
    ws.onmessage = null;
    ws.onclose = null;
    ws.onopen = null;
    ws.onerror = () => {};
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  #set(state: ConnectionState, error: MastClientError | null): void {
    const changed = state !== this.#state || error !== this.#error;
    this.#state = state;
    this.#error = error;
    if (changed) this.#hooks.state(state, error);
  }

  /** Down until the device is online again: no socket, no timer; the `online` event reconnects. */
  #waitForOnline(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waitingOnline = true;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      this.#detach(ws, 1000, 'device offline');
      this.#hooks.down();
    }
    this.#set('offline', new MastClientError('NETWORK', 'The device is offline'));
  }

  /**
   * In browsers: drop the socket when the device goes offline (a socket on a dead network
   * lingers until a timeout, and writes sent on it are lost), and reconnect at once when it
   * comes back online.
   */
  #watchOnline(): void {
    const target = globalThis as { addEventListener?: (type: string, fn: () => void) => void; removeEventListener?: (type: string, fn: () => void) => void };
    if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return;
    const online = (): void => {
      if (this.#stopped) return;
      if (this.#waitingOnline || (this.#state === 'offline' && this.#timer !== undefined)) {
        this.#waitingOnline = false;
        this.reconnect();
      }
    };
    const offline = (): void => {
      if (!this.#stopped) this.#waitForOnline();
    };
    target.addEventListener('online', online);
    target.addEventListener('offline', offline);
    this.#detachOnline = () => {
      target.removeEventListener?.('online', online);
      target.removeEventListener?.('offline', offline);
    };
  }
}

/** True when the browser knows it has no network (`navigator.onLine === false`); never in Node. */
function deviceOffline(): boolean {
  const nav = (globalThis as { navigator?: { onLine?: unknown } }).navigator;
  return nav?.onLine === false;
}
