import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AppError, toAppError } from '../errors/index.js';
import { ANONYMOUS, type AuthContext } from '../auth/auth-context.js';
import type { Metrics } from '../metrics/metrics.js';
import { RateLimiter } from '../limits/rate-limit.js';

/** Settings of the HTTP shell. */
export interface HttpOptions {
  readonly bodyLimit: number;
  readonly corsOrigin: string | null;
  readonly logger: Logger;
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

/** Maps Fastify's own errors (body parsing, limits) onto the catalogue. */
function fromFastifyError(err: FastifyError): AppError | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'Request body too large', { cause: err });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as Content-Type: application/json', { cause: err });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('INVALID_JSON', 'Invalid request body', { cause: err });
    default:
      if (err instanceof SyntaxError) return new AppError('INVALID_JSON', 'Invalid request body', { cause: err });
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
    ...(options.trustProxy > 0 ? { trustProxy: (_address: string, hop: number) => hop < options.trustProxy } : {}),
  });
  app.server.maxConnections = options.maxConnections;
  const limiter = new RateLimiter(options.rateLimit, 60_000);

  // JSON bodies; an empty body is "no body" (Pylon clients send DELETE with a JSON content type).
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new AppError('INVALID_JSON', 'Invalid request body', { cause: err }), undefined);
    }
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
  });

  app.options('*', async (_request, reply) => reply.code(204).send());

  app.setNotFoundHandler(async (request, reply) => {
    const error = new AppError('NOT_FOUND', `No API route matches ${request.method} ${request.url.split('?')[0]}`);
    return reply.code(404).send(error.toEnvelope());
  });

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const error = fromFastifyError(err) ?? toAppError(err);
    if (error.code === 'INTERNAL') {
      request.log.error({ err, method: request.method, url: request.routeOptions.url }, 'request failed');
    }
    const retryAfter = error.extra?.retry_after_secs;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
    return reply.code(error.status).send(error.toEnvelope());
  });

  return app;
}
