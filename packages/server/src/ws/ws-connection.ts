import { closeCodes, parseClientMessage, PROTOCOL_VERSION, type CloseCodeName, type ServerMessage } from '@mast/protocol';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { AuthContext } from '../auth/auth-context.js';
import type { LiveEngine } from '../live/live-engine.js';
import type { EncodedFrame, LiveSink } from '../live/live-frames.js';
import { errorReply } from './ws-reply.js';
import { handleResume } from './ws-resume.js';
import { handleSubscribe, handleUnsubscribe } from './ws-subscribe.js';

/** Per-socket limits. */
export interface ConnectionLimits {
  /** Messages a socket may send per second; the one past it closes the socket (4008). */
  readonly messagesPerSecond: number;
  /** Unsent bytes a socket may hold before it is closed as a slow consumer (4010). */
  readonly maxBufferedBytes: number;
}

/** How long a socket closed for a limit may take to finish the close handshake. */
const CLOSE_GRACE_MS = 5_000;

/**
 * One WebSocket: reads client messages into engine calls and writes the engine's frames. It is
 * the engine's sink, so a frame shared by many sockets is written here as the same bytes.
 */
export class LiveConnection implements LiveSink {
  readonly id: string;
  readonly #ws: WebSocket;
  readonly #live: LiveEngine;
  readonly #limits: ConnectionLimits;
  readonly #logger: Logger;
  readonly #onClose: (name: CloseCodeName) => void;
  #auth: AuthContext | null = null;
  #pending: Array<RawData | string> = [];
  #closed = false;
  #windowStart = 0;
  #windowCount = 0;
  #expiry: NodeJS.Timeout | undefined;
  /** False after a ping until the pong; a socket still false at the next ping is dead. */
  alive = true;

  constructor(id: string, ws: WebSocket, live: LiveEngine, limits: ConnectionLimits, logger: Logger, onClose: (name: CloseCodeName) => void) {
    this.id = id;
    this.#ws = ws;
    this.#live = live;
    this.#limits = limits;
    this.#logger = logger;
    this.#onClose = onClose;
    ws.on('message', (data, isBinary) => this.#receive(data, isBinary));
    ws.on('pong', () => (this.alive = true));
    ws.on('close', () => this.#gone());
    ws.on('error', () => this.#gone());
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

  /** Writes a shared frame (the engine's sink contract). */
  send(frame: EncodedFrame): void {
    this.#write(frame.buffer);
  }

  /** Writes a message meant for this socket only. */
  sendMessage(message: ServerMessage): void {
    this.#write(Buffer.from(JSON.stringify(message), 'utf8'));
  }

  /** Closes with a named code; the socket's subscriptions end at once. */
  close(name: CloseCodeName): void {
    if (this.#closed) return;
    this.#gone();
    this.#onClose(name);
    const { code, reason } = closeCodes[name];
    this.#ws.close(code, reason);
    // A peer that stopped reading never completes the close handshake.
    setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS).unref();
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
    if (this.#closed) return;
    this.#ws.send(data, { binary: false });
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
    const payload = isBinary ? '' : data;
    if (this.#auth === null) this.#pending.push(payload);
    else this.#handle(payload);
  }

  #handle(data: RawData | string): void {
    if (data === '') {
      this.sendMessage({ type: 'error', code: 'INVALID_MESSAGE', message: 'Send JSON text frames; binary frames are not accepted' });
      return;
    }
    const parsed = parseClientMessage(typeof data === 'string' ? data : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    if (!parsed.ok) {
      this.sendMessage({ type: 'error', ...(parsed.id === undefined ? {} : { id: parsed.id }), code: parsed.code, message: parsed.message });
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
        case 'unsubscribe':
          handleUnsubscribe(this.#live, this, message);
          this.sendMessage({ type: 'ack', id: message.id });
          return;
      }
    } catch (err) {
      work = Promise.reject(err);
    }
    work.catch((err: unknown) => this.#fail(err, message.id));
  }

  #fail(err: unknown, id: string): void {
    const { message, internal } = errorReply(err, id);
    if (internal) this.#logger.error({ err, connectionId: this.id }, 'live request failed');
    this.sendMessage(message);
  }

  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#expiry);
    this.#live.dropSink(this);
  }
}
