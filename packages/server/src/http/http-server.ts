import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { checkJsonLimits, DEFAULT_JSON_LIMITS, type JsonLimits } from '@mast/protocol';
import type { Logger } from 'pino';
import { AppError, errors, httpErrors, toAppError } from '../errors/index.js';
import { ANONYMOUS, type AuthContext } from '../access/auth-context.js';
import type { Metrics } from '../metrics/metrics.js';
import { RateLimiter } from '../limits/rate-limit.js';

/** Settings of the HTTP shell. */
export interface HttpOptions {
  readonly bodyLimit: number;
  /** Depth and size bounds of a JSON body (JSON_TOO_DEEP above); the protocol's defaults when absent. */
  readonly jsonLimits?: JsonLimits;
  readonly corsOrigin: string | null;
  readonly logger: Logger;
  /** The level of the one line logged per request (`info` in dev mode, `debug` otherwise). */
  readonly requestLogLevel?: 'info' | 'debug';
  readonly metrics: Metrics;
  /** Requests per minute per client address; 0 is no limit. */
  readonly rateLimit: number;
  readonly maxConnections: number;
  /** Proxy hops whose X-Forwarded-For entries are trusted. */
  readonly trustProxy: number;
  /** Resolves who is asking (throws 401 for a bad token). */
  readonly authenticate: (request: FastifyRequest) => Promise<AuthContext>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/** Longest path segment a route parameter may hold (row ids are at most 128 characters). */
const MAX_PARAM_LENGTH = 1024;

/**
 * The answer to an error Node's HTTP parser raises before any request exists (a malformed
 * request line, headers past 16 KB, a request that took too long): the error envelope written
 * straight to the socket, which is then closed.
 */
function clientErrorAnswer(err: NodeJS.ErrnoException): AppError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return httpErrors.headersTooLarge();
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return httpErrors.requestTimeout();
    default:
      return httpErrors.unparsableRequest(err.code);
  }
}

/** The envelope of an error; an INTERNAL one names the request id its log line carries. */
function envelopeOf(error: AppError, request: FastifyRequest): ReturnType<AppError['toEnvelope']> {
  const envelope = error.toEnvelope();
  if (error.code === 'INTERNAL') envelope.error.request_id = request.id;
  return envelope;
}

/** Maps Fastify's own errors (body parsing, limits) onto the catalogue. */
function fromFastifyError(err: FastifyError): AppError | null {
  // The client went away while its body was being read: its mistake, not a server fault.
  if (err.code === 'ECONNRESET' && err.message === 'aborted') return httpErrors.bodyCutOff(err);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return httpErrors.bodyTooLarge(err);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return httpErrors.unsupportedMediaType(err);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return httpErrors.invalidBody(err);
    case 'FST_ERR_BAD_URL':
      return httpErrors.malformedUrl(err);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return httpErrors.pathSegmentTooLong(MAX_PARAM_LENGTH, err);
    default:
      if (err instanceof SyntaxError) return httpErrors.invalidBody(err);
      return null;
  }
}

/**
 * Builds the Fastify instance every route group registers on: auth resolution, JSON body
 * parsing with a size limit, the error envelope, CORS and security headers, request metrics.
 * Only this layer turns errors into responses.
 */
export function createHttpServer(options: HttpOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Requests are counted in metrics, not logged one line each; errors are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors Fastify raises before a route runs (a bad percent-escape, an over-long segment).
    frameworkErrors: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
      const error = fromFastifyError(err) ?? toAppError(err);
      if (error.code === 'INTERNAL') request.log.error({ err, reqId: request.id }, 'request failed before routing');
      void reply.code(error.status).send(envelopeOf(error, request));
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const error = clientErrorAnswer(err);
      const body = JSON.stringify(error.toEnvelope());
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
    ...(options.trustProxy > 0 ? { trustProxy: (_address: string, hop: number) => hop < options.trustProxy } : {}),
  });
  app.server.maxConnections = options.maxConnections;
  const limiter = new RateLimiter(options.rateLimit, 60_000);

  // JSON bodies; an empty body is "no body" (Pylon clients send DELETE with a JSON content type).
  app.removeContentTypeParser(['application/json', 'text/plain']);
  // A body past the JSON bounds is refused here, before any validator (they recurse) sees it.
  const jsonLimits = options.jsonLimits ?? DEFAULT_JSON_LIMITS;
  // One rule, Pylon's: a body is JSON whether it is declared application/json, text/plain (what
  // a browser's fetch sends for a string) or not declared at all; any other declared type (a
  // form, multipart) is 415 UNSUPPORTED_MEDIA_TYPE.
  const parseJson = (_request: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void): void => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(httpErrors.invalidBody(err), undefined);
    }
    const violation = checkJsonLimits(value, jsonLimits);
    if (violation !== null) return done(errors.jsonTooDeep('The request body is refused', violation), undefined);
    done(null, value);
  };
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, parseJson);
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const type = request.headers['content-type'];
    if (type === undefined || type.trim() === '') return parseJson(request, body, done);
    done(httpErrors.bodyNotJson(type.split(';')[0]!.trim().slice(0, 100)), undefined);
  });

  app.decorateRequest('auth', null as never);
  app.addHook('onRequest', async (request, reply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    if (request.url !== '/health' && request.method !== 'OPTIONS') {
      try {
        limiter.hit(request.ip);
      } catch (err) {
        if (err instanceof AppError) reply.header('retry-after', String(err.extra?.retry_after_secs ?? 60));
        throw err;
      }
    }
    request.auth = request.url === '/health' ? ANONYMOUS : await options.authenticate(request);
    if (options.corsOrigin) {
      reply.header('access-control-allow-origin', options.corsOrigin);
      reply.header('access-control-allow-methods', 'GET, POST, PATCH, DELETE, OPTIONS');
      reply.header('access-control-allow-headers', 'Content-Type, Authorization');
      if (options.corsOrigin !== '*') {
        reply.header('access-control-allow-credentials', 'true');
        reply.header('vary', 'Origin');
      }
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    options.metrics.observe(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    // One line per request: method, path (never the query string, which may hold a token),
    // status, milliseconds and user.
    const level = options.requestLogLevel ?? 'debug';
    if (options.logger.isLevelEnabled(level)) {
      const path = request.url.split('?')[0]!;
      const ms = Math.round(reply.elapsedTime * 10) / 10;
      const user = request.auth?.userId ?? null;
      options.logger[level](
        { request: { method: request.method, path, status: reply.statusCode, ms, user } },
        `${request.method} ${path} ${reply.statusCode} ${ms} ms${user === null ? '' : ` (${user})`}`,
      );
    }
  });

  app.options('*', async (_request, reply) => reply.code(204).send());

  app.setNotFoundHandler(async (request, reply) => {
    const error = httpErrors.noRoute(request.method, request.url.split('?')[0] ?? '');
    return reply.code(404).send(error.toEnvelope());
  });

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const error = fromFastifyError(err) ?? toAppError(err);
    if (error.code === 'INTERNAL') {
      request.log.error({ err, reqId: request.id, method: request.method, url: request.routeOptions.url }, 'request failed');
    }
    const retryAfter = error.extra?.retry_after_secs;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    return reply.code(error.status).send(envelopeOf(error, request));
  });

  return app;
}
