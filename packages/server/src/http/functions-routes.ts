import { z } from 'zod';
import type { AuthedConnections } from '../auth/access-events.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChangeBus } from '../changes/change-bus.js';
import { httpErrors, toAppError } from '../errors/index.js';
import { AuthorError, diffResult, QueryWatch, type FunctionRegistry, type FunctionRunner } from '../functions/index.js';
import type { FunctionRateLimit } from '../functions/function-rate-limit.js';
import { EventStream } from './event-stream.js';
import { queryParam } from './request-context.js';

/** Services the function routes use. */
export interface FunctionRouteDeps {
  readonly runner: FunctionRunner;
  readonly bus: ChangeBus;
  /** The per-function call limit. */
  readonly rateLimit: FunctionRateLimit;
  /** Period of the `: keepalive` comment on watch streams. */
  readonly keepAliveMs: number;
  /** Unsent bytes a streamed call may hold before it is cancelled as a slow consumer. */
  readonly maxBufferedBytes: number;
  /** Where watch streams register, so a revoked session, changed org access or expiry ends them. */
  readonly streams: AuthedConnections;
}

/** The open watch streams and streamed calls, so shutdown can end them. */
export interface FunctionStreams {
  /** Ends every watch stream and cancels every streamed call in flight (it ends with FN_CANCELLED). */
  closeAll(): void;
}

/** An error as the body of a response or an SSE `error` event. */
function errorBody(err: unknown): { status: number; body: { error: Record<string, unknown> } } {
  if (err instanceof AuthorError) return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  const error = toAppError(err);
  return { status: error.status, body: error.toEnvelope() };
}

/** The `args` query parameter of a watch: a JSON object, absent meaning `{}`. */
function watchArgs(text: string | undefined): unknown {
  if (text === undefined || text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw httpErrors.argsParamNotJson(err);
  }
}

/** The op id of a mutation call (`Idempotency-Key`), validated like the REST writes'. */
function opIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  if (value.length === 0 || value.length > 200) throw httpErrors.invalidIdempotencyKey();
  return value;
}

/** How a streamed call is framed, from the Accept header; undefined for a plain call. */
type StreamFormat = 'ndjson' | 'sse';

function streamFormat(accept: string | undefined): StreamFormat | undefined {
  if (accept === undefined) return undefined;
  if (/application\/x-ndjson/i.test(accept)) return 'ndjson';
  if (/text\/event-stream/i.test(accept)) return 'sse';
  return undefined;
}

const FRAMES: Record<StreamFormat, { type: string; chunk: (data: unknown) => string; result: (value: unknown) => string; error: (error: unknown) => string }> = {
  ndjson: {
    type: 'application/x-ndjson; charset=utf-8',
    chunk: (data) => `${JSON.stringify({ chunk: data })}\n`,
    result: (value) => `${JSON.stringify({ result: value })}\n`,
    error: (error) => `${JSON.stringify({ error })}\n`,
  },
  sse: {
    type: 'text/event-stream; charset=utf-8',
    chunk: (data) => `data: ${JSON.stringify(data)}\n\n`,
    result: (value) => `event: result\ndata: ${JSON.stringify(value)}\n\n`,
    error: (error) => `event: error\ndata: ${JSON.stringify(error)}\n\n`,
  },
};

/**
 * A call whose action streams: each `ctx.stream.write` is sent at once, then the result or the
 * error. A failure before the first chunk is an ordinary error response. The client going
 * away, or not reading past `maxBufferedBytes`, cancels the call (its `ctx.signal` aborts).
 */
async function streamCall(
  deps: FunctionRouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  name: string,
  opId: string | undefined,
  format: StreamFormat,
  open: Set<() => void>,
): Promise<void> {
  const frames = FRAMES[format];
  const controller = new AbortController();
  const stream = new EventStream(reply, {
    contentType: frames.type,
    maxBufferedBytes: deps.maxBufferedBytes,
    onOverflow: () => {
      controller.abort();
      stream.raw.destroy();
    },
  });
  const cancel = (): void => controller.abort();
  open.add(cancel);
  stream.onClose(() => {
    if (!stream.raw.writableFinished) controller.abort();
  });
  try {
    const result = await deps.runner.call(name, request.body, request.auth, {
      ...(opId === undefined ? {} : { opId }),
      signal: controller.signal,
      onChunk: (data) => stream.write(frames.chunk(data)),
    });
    stream.write(frames.result(result));
  } catch (err) {
    const { status, body } = errorBody(err);
    if (status >= 500) request.log.error({ err }, 'function call failed');
    if (!stream.failBeforeStart(status, body)) stream.write(frames.error(body.error));
  } finally {
    open.delete(cancel);
  }
  // A cancelled stream's connection is not reused once its last bytes are out: its client went
  // away or the server is shutting down, and a client that stopped reading would hold it open.
  stream.end(controller.signal.aborted ? () => stream.raw.socket?.destroy() : undefined);
}

/** JSON Schema of a function's arguments, for `GET /api/fn` (null when zod cannot express it). */
function argsSchema(args: z.ZodType): unknown {
  try {
    return z.toJSONSchema(args, { unrepresentable: 'any' });
  } catch {
    return null;
  }
}

/**
 * `GET /api/fn`, in the admin group: the functions served, with their argument schemas.
 */
export function registerFunctionListRoute(app: FastifyInstance, registry: FunctionRegistry): void {
  app.get('/api/fn', async () =>
    registry
      .list()
      .map((f) => ({ name: f.name, fn_type: f.kind, args_schema: argsSchema(f.definition.args), ...(f.definition.unsafeBypassPolicies ? { bypasses_policies: true } : {}) })),
  );
}

/**
 * `POST /api/fn/<name>` (body = args; 200 with the raw JSON result) and `GET /api/fn/<name>/watch?args=<json>` (a query function as Server-Sent
 * Events: `event: result` with each new result, or with `&diff=true` the first result and then
 * `event: diff` with each change as `@mast/protocol`'s `ResultDiff`; `event: error` before the
 * stream ends). Errors use Pylon's shape; an author's own code is sent as they chose it.
 */
export function registerFunctionRoutes(app: FastifyInstance, deps: FunctionRouteDeps): FunctionStreams {
  const open = new Set<() => void>();

  app.post('/api/fn/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const opId = opIdOf(request);
    deps.rateLimit.hit(name, request.auth, request.ip);
    const format = streamFormat(request.headers.accept);
    if (format) return streamCall(deps, request, reply, name, opId, format, open);
    try {
      const result = await deps.runner.call(name, request.body, request.auth, opId === undefined ? {} : { opId });
      return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(result));
    } catch (err) {
      if (err instanceof AuthorError) return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
      throw err;
    }
  });

  app.get('/api/fn/:name/watch', async (request, reply) => {
    const { name } = request.params as { name: string };
    const args = watchArgs(queryParam(request, 'args'));
    const diffParam = queryParam(request, 'diff');
    const diffs = diffParam === '1' || diffParam === 'true';
    deps.rateLimit.hit(name, request.auth, request.ip);
    const end = (): void => stream.end();
    const stream = new EventStream(reply, { keepAliveMs: deps.keepAliveMs, maxBufferedBytes: deps.maxBufferedBytes, onOverflow: end });
    const watch = new QueryWatch(deps.runner, deps.bus, name, args, request.auth, {
      result: (value, previous) => (diffs && previous !== undefined ? stream.event('diff', diffResult(previous, value)) : stream.event('result', value)),
      error: (err) => {
        stream.event('error', errorBody(err).body.error);
        end();
      },
    });
    open.add(end);
    const unregister = deps.streams.add(request.auth, (code, message) => {
      watch.stop();
      stream.event('error', { code, message });
      end();
    });
    stream.onClose(() => {
      watch.stop();
      open.delete(end);
      unregister();
    });
    try {
      await watch.start();
    } catch (err) {
      // The first run failed: an ordinary error response, as for POST.
      const { status, body } = errorBody(err);
      if (status >= 500) request.log.error({ err }, 'watch failed');
      if (!stream.failBeforeStart(status, body)) {
        stream.event('error', body.error);
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
