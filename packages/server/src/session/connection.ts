import { closeCodes, DEFAULT_JSON_LIMITS, parseClientMessage, PROTOCOL_VERSION, type CloseCodeName, type JsonLimits, type ServerMessage } from '@mast/protocol';
import type { Logger } from 'pino';
import type { RawData } from 'ws';
import type { AuthContext } from '../access/auth-context.js';
import { fnErrors } from '../errors/index.js';
import type { LiveEngine } from '../live/live-engine.js';
import type { EncodedFrame, LiveSink } from '../live/live-frames.js';
import type { CrdtHub } from '../crdt/crdt-hub.js';
import type { RoomHub } from '../live/room-hub.js';
import type { SendCounters } from '../metrics/metrics.js';
import { handleCrdtBinary, handleCrdtMessage } from './crdt.js';
import { SocketCalls, SocketWatches, type SocketFunctions } from './functions.js';
import { errorReply } from './reply.js';
import { handleResume } from './resume.js';
import { handleRoomMessage } from './rooms.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe.js';

/** Per-socket limits. */
export interface ConnectionLimits {
  /** Messages a socket may send per second; the one past it closes the socket (4008). */
  readonly messagesPerSecond: number;
  /** Unsent bytes a socket may hold before it is closed as a slow consumer (4010). */
  readonly maxBufferedBytes: number;
  /** Depth and size bounds of a text frame's JSON (JSON_TOO_DEEP above); the protocol's defaults when absent. */
  readonly jsonLimits?: JsonLimits;
}

/** How long a socket closed for a limit may take to finish the close handshake. */
const CLOSE_GRACE_MS = 5_000;

/**
 * How long a socket closed as a slow consumer is kept (as long as `ws` waits for any close
 * handshake). Its close frame sits behind the bytes it has not read yet; dropping it after
 * `CLOSE_GRACE_MS` threw those bytes and the close frame away, so a client that resumed reading
 * saw 1006 instead of 4010. Nothing more is queued after the close, so what it holds is bounded.
 */
const SLOW_CONSUMER_DRAIN_MS = 30_000;

/**
 * What a connection needs of its transport. A server-side WebSocket from `ws` is one; an
 * in-process `DirectSocket` (`core.connect`) is another.
 */
export interface SocketPort {
  send(data: Buffer | Uint8Array, options: { binary: boolean }): void;
  /** Bytes written but not yet sent. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): unknown;
  on(event: 'pong' | 'close' | 'error', listener: () => void): unknown;
}

/** Writes a shared frame's finished bytes straight to the transport; false when it cannot now. */
export interface FrameWriter {
  write(frame: Buffer): boolean;
}

/** What a connection is built from. */
export interface ConnectionOptions {
  readonly id: string;
  readonly socket: SocketPort;
  readonly live: LiveEngine;
  readonly limits: ConnectionLimits;
  readonly logger: Logger;
  /** Called once when the connection is closed with a named code. */
  readonly onClose: (name: CloseCodeName) => void;
  /** CRDT row sync; without it CRDT messages answer UNKNOWN_MESSAGE and binary frames are refused. */
  readonly crdt?: CrdtHub | undefined;
  /** Rooms; without them room messages answer UNKNOWN_MESSAGE. */
  readonly rooms?: RoomHub | undefined;
  readonly counters?: SendCounters | undefined;
  /** Function calls and watches; without them they answer FN_NOT_FOUND. */
  readonly functions?: SocketFunctions | undefined;
  /** Writes shared frames already framed (a real WebSocket's TCP socket); none: frame through `send`. */
  readonly raw?: FrameWriter | null;
}

/**
 * One client connection speaking the realtime protocol: reads client messages into engine calls
 * and writes the engine's frames. It is the engine's sink, so a frame shared by many sockets is
 * written here as the same bytes. The transport is a `SocketPort`.
 */
export class LiveConnection implements LiveSink {
  readonly id: string;
  readonly #ws: SocketPort;
  readonly #live: LiveEngine;
  readonly #limits: ConnectionLimits;
  readonly #logger: Logger;
  readonly #onClose: (name: CloseCodeName) => void;
  readonly #crdt: CrdtHub | undefined;
  readonly #rooms: RoomHub | undefined;
  readonly #counters: SendCounters | undefined;
  readonly #calls: SocketCalls | undefined;
  readonly #watches: SocketWatches | undefined;
  /** Writes shared frames already framed; null when this socket must frame through `send`. */
  readonly #raw: FrameWriter | null;
  #auth: AuthContext | null = null;
  #pending: Array<RawData | string | Uint8Array> = [];
  #closed = false;
  #windowStart = 0;
  #windowCount = 0;
  #expiry: NodeJS.Timeout | undefined;
  /** False after a ping until the pong; a socket still false at the next ping is dead. */
  alive = true;

  constructor(options: ConnectionOptions) {
    const { id, socket, functions } = options;
    this.id = id;
    this.#crdt = options.crdt;
    this.#rooms = options.rooms;
    this.#counters = options.counters;
    this.#calls = functions && new SocketCalls(functions, this, id, (err) => this.#logger.error({ err, connectionId: this.id }, 'function call failed'));
    this.#watches = functions && new SocketWatches(functions, this, id, (err) => this.#logger.error({ err, connectionId: this.id }, 'function watch failed'));
    this.#ws = socket;
    this.#live = options.live;
    this.#limits = options.limits;
    this.#logger = options.logger;
    this.#onClose = options.onClose;
    this.#raw = options.raw ?? null;
    socket.on('message', (data, isBinary) => this.#receive(data, isBinary));
    socket.on('pong', () => (this.alive = true));
    socket.on('close', () => this.#gone());
    socket.on('error', () => this.#gone());
  }

  /** Starts serving once the handshake's token resolved: sends `hello`, then reads messages. */
  start(auth: AuthContext, now = Date.now()): void {
    if (this.#closed) return;
    this.#auth = auth;
    if (auth.expiresAt !== undefined) this.#expireAt(auth.expiresAt, now);
    this.sendMessage({ type: 'hello', protocol: PROTOCOL_VERSION, connectionId: this.id, seq: this.#live.seq });
    const pending = this.#pending;
    this.#pending = [];
    for (const data of pending) this.#handle(data);
  }

  /** Writes a shared frame (the engine's sink contract): its bytes are framed once for all sockets. */
  send(frame: EncodedFrame): void {
    if (this.#closed || !this.#fits(frame.wsFrame.length)) return;
    if (!this.#raw?.write(frame.wsFrame)) this.#ws.send(frame.buffer, { binary: false });
    this.#counters?.sent(frame.byteLength);
    this.#checkBuffered();
  }

  /** Writes a message meant for this socket only. */
  sendMessage(message: ServerMessage): void {
    this.#write(Buffer.from(JSON.stringify(message), 'utf8'));
  }

  /** Writes a binary CRDT frame meant for this socket. */
  sendBinary(bytes: Uint8Array): void {
    if (this.#closed || !this.#fits(bytes.length)) return;
    this.#ws.send(bytes, { binary: true });
    this.#counters?.sent(bytes.length);
    this.#checkBuffered();
  }

  /** Closes with a named code; the socket's subscriptions end at once. */
  /** Who this socket authenticated as, once it has. */
  get auth(): AuthContext | null {
    return this.#auth;
  }

  close(name: CloseCodeName): void {
    if (this.#closed) return;
    this.#gone();
    this.#onClose(name);
    const { code, reason } = closeCodes[name];
    this.#ws.close(code, reason);
    // A peer that stopped reading never completes the close handshake.
    setTimeout(() => this.#ws.terminate(), name === 'SLOW_CONSUMER' ? SLOW_CONSUMER_DRAIN_MS : CLOSE_GRACE_MS).unref();
  }

  /** Drops the socket without a close frame (it stopped answering pings). */
  terminate(): void {
    this.#gone();
    this.#ws.terminate();
  }

  /** Sends a ping; see `alive`. */
  ping(): void {
    this.alive = false;
    this.#ws.ping();
  }

  /** Closes the socket when its session expires (4002): the token was only checked at connect. */
  #expireAt(expiresAt: number, now: number): void {
    // Timers take at most 2^31-1 ms; a longer session is re-armed when this one fires.
    const delay = Math.min(Math.max(0, expiresAt - now), 2 ** 31 - 1);
    this.#expiry = setTimeout(() => {
      const at = Date.now();
      if (at >= expiresAt) this.close('SESSION_EXPIRED');
      else this.#expireAt(expiresAt, at);
    }, delay);
    this.#expiry.unref();
  }

  #write(data: Buffer): void {
    if (this.#closed || !this.#fits(data.length)) return;
    this.#ws.send(data, { binary: false });
    this.#counters?.sent(data.length);
    this.#checkBuffered();
  }

  /**
   * Whether `size` more bytes may be queued: not when they would take a socket that still holds
   * unsent bytes past the limit. Such a socket is closed instead, so its close frame comes right
   * after what it was already sent, and what it holds stays within the limit (a single frame
   * larger than the limit still goes to a socket that has caught up).
   */
  #fits(size: number): boolean {
    const buffered = this.#ws.bufferedAmount;
    if (buffered === 0 || buffered + size <= this.#limits.maxBufferedBytes) return true;
    this.close('SLOW_CONSUMER');
    return false;
  }

  /** Closes a socket whose unsent bytes passed the limit (raw frames count: they sit in the same stream). */
  #checkBuffered(): void {
    if (this.#ws.bufferedAmount > this.#limits.maxBufferedBytes) this.close('SLOW_CONSUMER');
  }

  #receive(data: RawData, isBinary: boolean): void {
    if (this.#closed) return;
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    if (++this.#windowCount > this.#limits.messagesPerSecond) {
      this.close('RATE_LIMITED');
      return;
    }
    // Binary frames are CRDT pushes when CRDT sync is on; they arrive as a Uint8Array.
    const payload = isBinary ? (this.#crdt ? binaryBytes(data) : '') : data;
    if (this.#auth === null) this.#pending.push(payload);
    else this.#handle(payload);
  }

  /**
   * Serves one frame. Nothing a frame holds may throw past this point: `ws` emits messages
   * outside any caller that would catch, so an escaped throw would end the process. An
   * unexpected error is answered INTERNAL and logged with its stack and a request id.
   */
  #handle(data: RawData | string | Uint8Array): void {
    try {
      this.#serve(data);
    } catch (err) {
      this.#fail(err, undefined);
    }
  }

  #serve(data: RawData | string | Uint8Array): void {
    if (this.#crdt && data instanceof Uint8Array && !Buffer.isBuffer(data)) {
      handleCrdtBinary(this.#crdt, this, this.#auth!, data, (err) => this.#logger.error({ err, connectionId: this.id }, 'CRDT push failed'));
      return;
    }
    if (data === '') {
      this.sendMessage({ type: 'error', code: 'INVALID_MESSAGE', message: 'Send JSON text frames; binary frames are not accepted' });
      return;
    }
    const text = typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8');
    const limits = this.#limits.jsonLimits ?? DEFAULT_JSON_LIMITS;
    const parsed = parseClientMessage(text, limits);
    if (!parsed.ok) {
      this.sendMessage({
        type: 'error',
        ...(parsed.id === undefined ? {} : { id: parsed.id }),
        code: parsed.code,
        message: parsed.message,
        ...(parsed.room === undefined ? {} : { room: parsed.room }),
      });
      return;
    }
    const message = parsed.message;
    const auth = this.#auth!;
    let work: Promise<void>;
    try {
      switch (message.type) {
        case 'subscribe':
          work = handleSubscribe(this.#live, this, message, auth);
          break;
        case 'resume':
          work = handleResume(this.#live, this, message, auth);
          break;
        case 'join':
        case 'leave':
        case 'presence':
        case 'broadcast':
          if (this.#rooms)
            handleRoomMessage(this.#rooms, this, message, auth, (err, requestId) => this.#logger.error({ err, connectionId: this.id, requestId }, 'room request failed'));
          else this.sendMessage({ type: 'error', ...(message.id === undefined ? {} : { id: message.id }), code: 'UNKNOWN_MESSAGE', message: 'Rooms are not served here' });
          return;
        case 'crdt-subscribe':
        case 'crdt-unsubscribe':
        case 'crdt-resync':
          if (this.#crdt)
            handleCrdtMessage(this.#crdt, this, auth, message, (err, requestId) => this.#logger.error({ err, connectionId: this.id, requestId }, 'CRDT request failed'));
          else this.sendMessage({ type: 'error', ...(message.id === undefined ? {} : { id: message.id }), code: 'UNKNOWN_MESSAGE', message: 'CRDT rows are not served here' });
          return;
        case 'barrier':
          work = this.#live.barrier(this, message.id);
          break;
        case 'unsubscribe':
          handleUnsubscribe(this.#live, this, message);
          this.sendMessage({ type: 'ack', id: message.id });
          return;
        case 'fn-call':
          work = this.#calls ? this.#calls.call(message, auth) : Promise.reject(fnErrors.noFunctions());
          break;
        case 'fn-cancel':
          if (this.#calls) this.#calls.cancel(message);
          else this.sendMessage({ type: 'error', id: message.id, code: 'NOT_FOUND', message: 'No call is running on this socket' });
          return;
        case 'fn-watch':
          work = this.#watches ? this.#watches.watch(message, auth) : Promise.reject(fnErrors.noFunctions());
          break;
        case 'fn-unwatch':
          if (this.#watches) this.#watches.unwatch(message);
          else this.sendMessage({ type: 'error', id: message.id, code: 'NOT_FOUND', message: 'No watch is open on this socket' });
          return;
      }
    } catch (err) {
      work = Promise.reject(err);
    }
    work.catch((err: unknown) => this.#fail(err, message.id));
  }

  #fail(err: unknown, id: string | undefined): void {
    const { message, internal } = errorReply(err, id);
    if (internal) this.#logger.error({ err, connectionId: this.id, requestId: id }, 'socket request failed');
    this.sendMessage(message);
  }

  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#expiry);
    this.#live.dropSink(this);
    this.#crdt?.dropSink(this);
    this.#rooms?.dropSink(this);
    this.#calls?.cancelAll();
    this.#watches?.stopAll();
  }
}

/** A binary frame's bytes as one plain Uint8Array (not a Buffer, which marks text frames here). */
function binaryBytes(data: RawData): Uint8Array {
  const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
