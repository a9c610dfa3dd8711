import type { AuthedConnections } from '../auth/access-events.js';
import type { FastifyInstance } from 'fastify';
import { AppError, httpErrors, toAppError } from '../errors/index.js';
import type { LiveEngine } from '../live/live-engine.js';
import type { EncodedFrame, LiveSink } from '../live/live-frames.js';
import { EventStream } from './event-stream.js';
import { queryParam } from './request-context.js';

/** Settings of the SSE route. */
export interface EventsOptions {
  readonly live: LiveEngine;
  /** Unsent bytes a stream may hold before it is ended (the client reconnects and resumes). */
  readonly maxBufferedBytes: number;
  /** Period of the `: keepalive` comment. */
  readonly keepAliveMs: number;
  /** Where the stream registers, so a revoked session or changed org access ends it. */
  readonly streams: AuthedConnections;
}

/** The open streams, so shutdown can end them. */
export interface EventStreams {
  closeAll(): void;
}

const SUBSCRIPTION_ID = 'sse';

/** A live-query SSE stream as a sink of the live engine. */
class SseSink implements LiveSink {
  constructor(readonly stream: EventStream) {}

  send(frame: EncodedFrame): void {
    this.stream.write(frame.sse);
  }
}

function parseFilterParam(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw httpErrors.filterParamNotJson(err);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw httpErrors.filterParamNotObject();
  return value as Record<string, unknown>;
}

function parseSince(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text)) throw httpErrors.invalidLastEventId();
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
    if (entity === undefined || entity === '') throw httpErrors.eventsEntityMissing();
    const filter = parseFilterParam(queryParam(request, 'filter'));
    const includeText = queryParam(request, 'include');
    const include = includeText === undefined || includeText === '' ? undefined : includeText.split(',').map((name) => name.trim());
    const lastEventId = request.headers['last-event-id'];
    const since = parseSince(typeof lastEventId === 'string' ? lastEventId : queryParam(request, 'lastEventId'));
    const end = (): void => stream.end();
    const stream = new EventStream(reply, { preamble: ': connected\n\n', keepAliveMs: options.keepAliveMs, maxBufferedBytes: options.maxBufferedBytes, onOverflow: end });
    const sink = new SseSink(stream);
    const unregister = options.streams.add(request.auth, (code, message) => {
      options.live.dropSink(sink);
      if (stream.started) stream.event('error', { type: 'error', code, message });
      end();
    });
    open.add(end);
    stream.onClose(() => {
      options.live.dropSink(sink);
      open.delete(end);
      unregister();
    });

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
      if (!stream.failBeforeStart(error.status, error.toEnvelope())) {
        stream.event('error', { type: 'error', code: error.code, message: error.message });
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
