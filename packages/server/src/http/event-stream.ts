import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/** How one long-lived response streams. */
export interface EventStreamOptions {
  /** Default `text/event-stream; charset=utf-8`. */
  readonly contentType?: string;
  /** Written right after the head (e.g. an SSE comment that tells the client it is connected). */
  readonly preamble?: string;
  /** Period of the `: keepalive` comment once the stream has started; none when omitted. */
  readonly keepAliveMs?: number;
  /** Unsent bytes the stream may hold; past them `onOverflow` runs (the client stopped reading). */
  readonly maxBufferedBytes: number;
  readonly onOverflow: () => void;
}

/**
 * One streamed HTTP response (Server-Sent Events or NDJSON), the one writer every stream uses:
 * it takes the response over from Fastify (keeping the headers Fastify set: CORS, security),
 * writes the head with the first bytes, sends keep-alive comments, and watches back-pressure.
 * A failure before the first bytes is still an ordinary JSON error response.
 */
export class EventStream {
  readonly raw: ServerResponse;
  readonly #headers: Record<string, string>;
  readonly #options: EventStreamOptions;
  readonly #keepAlive: NodeJS.Timeout | undefined;

  constructor(reply: FastifyReply, options: EventStreamOptions) {
    this.#headers = Object.fromEntries(Object.entries(reply.getHeaders()).map(([k, v]) => [k, String(v)]));
    this.#options = options;
    this.raw = reply.raw;
    reply.hijack();
    if (options.keepAliveMs !== undefined) {
      const keepAlive = setInterval(() => this.started && this.write(': keepalive\n\n'), options.keepAliveMs);
      keepAlive.unref();
      this.#keepAlive = keepAlive;
    }
    this.raw.on('close', () => clearInterval(this.#keepAlive));
  }

  /** Whether the head (and so the first bytes) has been written. */
  get started(): boolean {
    return this.raw.headersSent;
  }

  /** Whether bytes can still be written. */
  get writable(): boolean {
    return !this.raw.destroyed && !this.raw.writableEnded;
  }

  /** Writes `text`, starting the stream first if needed. */
  write(text: string): void {
    if (!this.writable) return;
    if (!this.started) {
      this.raw.writeHead(200, {
        ...this.#headers,
        'content-type': this.#options.contentType ?? 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
      if (this.#options.preamble !== undefined) this.raw.write(this.#options.preamble);
    }
    this.raw.write(text);
    if (this.raw.writableLength > this.#options.maxBufferedBytes) this.#options.onOverflow();
  }

  /** Writes one SSE event: `event: <name>` and its data as JSON. */
  event(name: string, data: unknown): void {
    this.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /**
   * Answers an error as an ordinary JSON response when nothing was streamed yet; returns false
   * (and writes nothing) once the stream has started, where the caller sends an error event.
   */
  failBeforeStart(status: number, body: unknown): boolean {
    if (this.started) return false;
    if (this.writable) {
      this.raw.writeHead(status, { ...this.#headers, 'content-type': 'application/json; charset=utf-8' });
      this.raw.end(JSON.stringify(body));
    }
    return true;
  }

  /** Ends the response (once); `then` runs when its last bytes are out. */
  end(then?: () => void): void {
    if (!this.raw.writableEnded) this.raw.end(then);
    else then?.();
  }

  /** Runs `listener` when the connection closes, whoever closed it. */
  onClose(listener: () => void): void {
    this.raw.on('close', listener);
  }
}
