import type { ServerMessage } from '@mast/protocol';

/**
 * One server message encoded once and shared by every connection it goes to: the JSON text,
 * its UTF-8 bytes for WebSocket sends, and its SSE event text, each built on first use.
 */
export class EncodedFrame {
  readonly seq: number;
  /** The message's `type`, also the SSE event name. */
  readonly event: string;
  readonly json: string;
  #buffer: Buffer | undefined;
  #sse: string | undefined;

  constructor(message: ServerMessage, seq: number) {
    this.seq = seq;
    this.event = message.type;
    this.json = JSON.stringify(message);
  }

  /** The UTF-8 bytes; sending the same Buffer avoids re-encoding per socket. */
  get buffer(): Buffer {
    this.#buffer ??= Buffer.from(this.json, 'utf8');
    return this.#buffer;
  }

  /** The SSE event: `id:` is the seq, so `Last-Event-ID` is a resume cursor. */
  get sse(): string {
    this.#sse ??= `id: ${this.seq}\nevent: ${this.event}\ndata: ${this.json}\n\n`;
    return this.#sse;
  }
}

/**
 * Where a live query's frames go: one WebSocket, one SSE stream, or a test. The core never
 * touches sockets; a sink that cannot keep up closes itself and the engine drops it.
 */
export interface LiveSink {
  /** Delivers one frame, in order. Must not throw. */
  send(frame: EncodedFrame): void;
}
