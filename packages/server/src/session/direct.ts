import type { ClientMessage, ServerMessage } from '@mast/protocol';
import type { RawData } from 'ws';
import type { SocketPort } from './connection.js';

/** What the server sent on an in-process connection: a message, or a binary CRDT frame. */
export type DirectFrame = ServerMessage | Uint8Array;

/**
 * An in-process connection to a core (`core.connect(auth)`): the realtime protocol (live
 * queries, resume, rooms, functions, CRDT rows) with no socket. Messages are delivered
 * asynchronously and in order, as over a network; frames sent before the first listener
 * attaches are kept for it.
 */
export interface DirectConnection {
  readonly id: string;
  /** Sends a client message (anything a client may send as JSON text). */
  send(message: ClientMessage | Record<string, unknown>): void;
  /** Sends a binary frame (a CRDT update, `@mast/protocol`'s `encodeCrdtFrame`). */
  sendBinary(bytes: Uint8Array): void;
  /** Calls `listener` with every frame the server sends; returns a function that stops it. */
  onFrame(listener: (frame: DirectFrame) => void): () => void;
  /** Resolves when the server closes the connection, with its close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Closes the connection from the client's side (a normal closure). */
  close(): void;
}

type Listener = (...args: never[]) => void;

/** The server's side of a `DirectConnection`: a `SocketPort` with nothing underneath. */
export class DirectSocket implements SocketPort {
  readonly bufferedAmount = 0;
  readonly client: DirectConnection;
  readonly #listeners = new Map<string, Listener[]>();
  readonly #frameListeners = new Set<(frame: DirectFrame) => void>();
  #backlog: DirectFrame[] = [];
  #open = true;
  #resolveClosed!: (value: { code: number; reason: string }) => void;

  constructor(id: string) {
    const closed = new Promise<{ code: number; reason: string }>((resolve) => (this.#resolveClosed = resolve));
    this.client = {
      id,
      send: (message) => this.#fromClient(Buffer.from(JSON.stringify(message), 'utf8'), false),
      sendBinary: (bytes) => this.#fromClient(Buffer.from(bytes), true),
      onFrame: (listener) => {
        this.#frameListeners.add(listener);
        const backlog = this.#backlog;
        this.#backlog = [];
        for (const frame of backlog) listener(frame);
        return () => this.#frameListeners.delete(listener);
      },
      closed,
      close: () => this.#end(1000, 'closed by the client'),
    };
  }

  on(event: string, listener: Listener): this {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
    return this;
  }

  send(data: Buffer | Uint8Array, options: { binary: boolean }): void {
    if (!this.#open) return;
    const frame: DirectFrame = options.binary ? new Uint8Array(data) : (JSON.parse(Buffer.from(data).toString('utf8')) as ServerMessage);
    queueMicrotask(() => this.#deliver(frame));
  }

  close(code: number, reason: string): void {
    this.#end(code, reason);
  }

  terminate(): void {
    this.#end(1006, '');
  }

  ping(): void {
    queueMicrotask(() => this.#emit('pong'));
  }

  #deliver(frame: DirectFrame): void {
    if (this.#frameListeners.size === 0) this.#backlog.push(frame);
    for (const listener of this.#frameListeners) listener(frame);
  }

  #fromClient(data: Buffer, isBinary: boolean): void {
    if (!this.#open) return;
    queueMicrotask(() => this.#emit('message', data as RawData, isBinary));
  }

  #end(code: number, reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    // Frames already sent arrive before the close, as on a socket.
    queueMicrotask(() => {
      this.#emit('close');
      this.#resolveClosed({ code, reason });
    });
  }

  #emit(event: string, ...args: unknown[]): void {
    for (const listener of this.#listeners.get(event) ?? []) (listener as (...a: unknown[]) => void)(...args);
  }
}
