import type { ServerResponse } from 'node:http';
import type { AuthedStreams } from '../auth/access-events.js';
import type { FastifyInstance } from 'fastify';
import { AppError, toAppError } from '../errors/index.js';
import type { LiveEngine } from '../live/live-engine.js';
import type { EncodedFrame, LiveSink } from '../live/live-frames.js';
import { queryParam } from './request-context.js';

/** Settings of the SSE route. */
export interface EventsOptions {
  readonly live: LiveEngine;
  /** Unsent bytes a stream may hold before it is ended (the client reconnects and resumes). */
  readonly maxBufferedBytes: number;
  /** Period of the `: keepalive` comment. */
  readonly keepAliveMs: number;
  /** Where the stream registers, so a revoked session or changed org access ends it. */
  readonly streams: AuthedStreams;
}

/** The open streams, so shutdown can end them. */
export interface EventStreams {
  closeAll(): void;
}

const SUBSCRIPTION_ID = 'sse';

/** One SSE response as a live sink; its head is written with the first frame. */
class SseSink implements LiveSink {
  readonly #raw: ServerResponse;
  readonly #headers: Record<string, string>;
  readonly #maxBuffered: number;
  readonly #onOverflow: () => void;
  started = false;

  constructor(raw: ServerResponse, headers: Record<string, string>, maxBuffered: number, onOverflow: () => void) {
    this.#raw = raw;
    this.#headers = headers;
    this.#maxBuffered = maxBuffered;
    this.#onOverflow = onOverflow;
  }

  send(frame: EncodedFrame): void {
    this.write(frame.sse);
  }

  write(text: string): void {
    if (this.#raw.destroyed || this.#raw.writableEnded) return;
    if (!this.started) {
      this.started = true;
      this.#raw.writeHead(200, { ...this.#headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      this.#raw.write(': connected\n\n');
    }
    this.#raw.write(text);
    if (this.#raw.writableLength > this.#maxBuffered) this.#onOverflow();
  }
}

function parseFilterParam(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError('INVALID_JSON', 'The filter parameter is not valid JSON', { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AppError('INVALID_QUERY', 'The filter must be a JSON object');
  return value as Record<string, unknown>;
}

function parseSince(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text)) throw new AppError('INVALID_CURSOR', 'Last-Event-ID must be a seq number');
  return Number(text);
}

/**
 * `GET /events?entity=E&filter=<json>`: one live query as Server-Sent Events carrying the same
 * `result`/`diff` messages as the WebSocket, each with `id:` = its seq. A reconnect with
 * `Last-Event-ID` (or `?lastEventId=`) resumes: `resumed` or a fresh `result`, and a fresh
 * `result` when the cursor is outside the change log (SSE cannot ask the client to refetch).
 */
export function registerEventsRoutes(app: FastifyInstance, options: EventsOptions): EventStreams {
  const open = new Set<() => void>();

  app.get('/events', async (request, reply) => {
    const entity = queryParam(request, 'entity');
    if (entity === undefined || entity === '') throw new AppError('INVALID_QUERY', 'Name the entity: /events?entity=<Entity>&filter=<json>');
    const filter = parseFilterParam(queryParam(request, 'filter'));
    const includeText = queryParam(request, 'include');
    const include = includeText === undefined || includeText === '' ? undefined : includeText.split(',').map((name) => name.trim());
    const lastEventId = request.headers['last-event-id'];
    const since = parseSince(typeof lastEventId === 'string' ? lastEventId : queryParam(request, 'lastEventId'));
    const headers = Object.fromEntries(Object.entries(reply.getHeaders()).map(([k, v]) => [k, String(v)]));
    const raw = reply.raw;

    reply.hijack();
    const end = (): void => {
      if (!raw.writableEnded) raw.end();
    };
    const sink = new SseSink(raw, headers, options.maxBufferedBytes, end);
    const keepAlive = setInterval(() => sink.started && sink.write(': keepalive\n\n'), options.keepAliveMs);
    keepAlive.unref();
    const unregister = options.streams.add(request.auth, (code, message) => {
      options.live.dropSink(sink);
      if (sink.started) sink.write(`event: error\ndata: ${JSON.stringify({ type: 'error', code, message })}\n\n`);
      end();
    });
    const cleanup = (): void => {
      clearInterval(keepAlive);
      options.live.dropSink(sink);
      open.delete(end);
      unregister();
    };
    open.add(end);
    raw.on('close', cleanup);

    const request_ = { id: SUBSCRIPTION_ID, entity, filter, include };
    try {
      if (since === undefined) {
        await options.live.subscribe(sink, request_, request.auth);
      } else {
        try {
          await options.live.resume(sink, 'resume', since, [request_], request.auth);
        } catch (err) {
          if (!(err instanceof AppError && err.code === 'RESYNC_REQUIRED')) throw err;
          await options.live.subscribe(sink, request_, request.auth);
        }
      }
    } catch (err) {
      const error = toAppError(err);
      if (error.code === 'INTERNAL') request.log.error({ err }, 'event stream failed');
      if (!sink.started && !raw.headersSent) {
        raw.writeHead(error.status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
        raw.end(JSON.stringify(error.toEnvelope()));
      } else {
        sink.write(`event: error\ndata: ${JSON.stringify({ type: 'error', code: error.code, message: error.message })}\n\n`);
        end();
      }
    }
  });

  return {
    closeAll() {
      for (const end of [...open]) end();
    },
  };
}
