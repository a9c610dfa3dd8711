import type { Socket } from 'node:net';
import { WebSocket } from 'ws';

/** The parts of a `ws` (v8) WebSocket that writing a finished frame past its Sender relies on. */
interface WsInternals {
  readonly _socket?: unknown;
  readonly _extensions?: unknown;
  readonly _sender?: { readonly _state?: unknown; readonly _queue?: unknown; readonly _firstFragment?: unknown };
}

/** What `write` reads of `ws`'s Sender to know it is idle. */
interface SenderState {
  readonly _state: number;
  readonly _queue: readonly unknown[];
  readonly _firstFragment: boolean;
}

/** Sender._state when it is neither compressing nor reading a Blob. */
const SENDER_IDLE = 0;

/**
 * Writes finished server frames (`EncodedFrame.wsFrame`) straight to a WebSocket's TCP socket,
 * so a broadcast is framed once instead of once per socket. It is only allowed when `ws` would
 * have written exactly those bytes at that moment: no extension is negotiated (so no RSV bits
 * and no compression), the socket is open, and `ws`'s Sender is idle (nothing queued behind a
 * compression or a Blob read, no fragmented message in progress). The bytes then enter the
 * same socket stream `ws` writes to, so order with `ws`'s own frames (pings, close) holds and
 * `ws.bufferedAmount`, which counts that stream, still sees them. Otherwise `write` declines
 * and the caller uses `ws.send`.
 */
export class RawFrameWriter {
  readonly #ws: WebSocket;
  readonly #socket: Socket;
  readonly #sender: SenderState;

  private constructor(ws: WebSocket, socket: Socket, sender: SenderState) {
    this.#ws = ws;
    this.#socket = socket;
    this.#sender = sender;
  }

  /**
   * A writer for an open server-side socket, or null when it has an extension or `ws`'s
   * internals are not the ones this relies on (a `ws` upgrade that changed them).
   */
  static for(ws: WebSocket): RawFrameWriter | null {
    const internals = ws as unknown as WsInternals;
    const socket = internals._socket as Partial<Socket> | undefined;
    const sender = internals._sender;
    const extensions = internals._extensions;
    if (!socket || typeof socket.write !== 'function' || typeof extensions !== 'object' || extensions === null || Object.keys(extensions).length > 0) return null;
    if (!sender || typeof sender._state !== 'number' || !Array.isArray(sender._queue) || typeof sender._firstFragment !== 'boolean') return null;
    return new RawFrameWriter(ws, socket as Socket, sender as SenderState);
  }

  /** Writes `frame` when `ws` would have written the same bytes now; false when it did not. */
  write(frame: Buffer): boolean {
    const sender = this.#sender;
    if (this.#ws.readyState !== WebSocket.OPEN || !this.#socket.writable) return false;
    if (sender._state !== SENDER_IDLE || sender._queue.length > 0 || !sender._firstFragment) return false;
    this.#socket.write(frame);
    return true;
  }
}
