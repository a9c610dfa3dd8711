import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors/index.js';

/**
 * A route's `preHandler` that counts the request by client address with `hit` (an in-memory
 * RateLimiter's, or the database-backed AuthLimits') and, past the limit, answers 429
 * RATE_LIMITED with a Retry-After header.
 */
export function limitedBy(hit: (address: string) => void | Promise<void>): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    try {
      await hit(request.ip);
    } catch (err) {
      if (err instanceof AppError) reply.header('retry-after', String(err.extra?.retry_after_secs ?? 60));
      throw err;
    }
  };
}
