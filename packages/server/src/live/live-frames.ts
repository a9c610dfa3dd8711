import type { ServerMessage } from '@mast/protocol';

/**
 * One server message encoded once and shared by every connection it goes to: the JSON text,
 * its WebSocket frame, and its SSE event text, each built on first use.
 */
export class EncodedFrame {
  readonly seq: number;
  /** The message's `type`, also the SSE event name. */
  readonly event: string;
  readonly json: string;
  #wsFrame: Buffer | undefined;
  #headerLength = 0;
  #sse: string | undefined;

  constructor(message: ServerMessage, seq: number) {
    this.seq = seq;
    this.event = message.type;
    this.json = JSON.stringify(message);
  }

  /** The UTF-8 bytes; sending the same Buffer avoids re-encoding per socket. */
  get buffer(): Buffer {
    return this.wsFrame.subarray(this.#headerLength);
  }

  /** How many bytes `buffer` holds. */
  get byteLength(): number {
    return this.wsFrame.length - this.#headerLength;
  }

  /** The message's WebSocket frame (`serverTextFrame`), built once per broadcast. */
  get wsFrame(): Buffer {
    if (this.#wsFrame === undefined) {
      const frame = serverTextFrame(this.json);
      // The 7-bit length says how long the header is: 126 and 127 announce 2 and 8 more bytes.
      const short = frame[1]! & 0x7f;
      this.#headerLength = short < 126 ? 2 : short === 126 ? 4 : 10;
      this.#wsFrame = frame;
    }
    return this.#wsFrame;
  }

  /** The SSE event: `id:` is the seq, so `Last-Event-ID` is a resume cursor. */
  get sse(): string {
    this.#sse ??= `id: ${this.seq}\nevent: ${this.event}\ndata: ${this.json}\n\n`;
    return this.#sse;
  }
}

/**
 * The whole WebSocket frame a server sends for `text` (RFC 6455 §5.2: FIN, text opcode, no RSV
 * bits, unmasked, shortest length encoding), with its UTF-8 bytes after the header: the bytes
 * `ws` writes for it on a socket without extensions.
 */
export function serverTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text, 'utf8');
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81;
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt16BE(0, 2);
    frame.writeUIntBE(length, 4, 6);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

/**
 * Where a live query's frames go: one WebSocket, one SSE stream, or a test. The core never
 * touches sockets; a sink that cannot keep up closes itself and the engine drops it.
 */
export interface LiveSink {
  /** Delivers one frame, in order. Must not throw. */
  send(frame: EncodedFrame): void;
}
