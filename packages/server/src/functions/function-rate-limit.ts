import type { RateLimit } from '@mast/functions';
import type { AuthContext } from '../access/auth-context.js';
import type { FunctionRegistry } from './function-registry.js';
import { RateLimiter } from '../limits/rate-limit.js';

/**
 * The per-function call limit of the transports (HTTP and socket calls; nested calls from
 * actions and jobs are not counted): each caller — a user id, or for an anonymous caller its
 * address (HTTP) or socket — may call one function `max` times per window, the function's own
 * `rateLimit` or the server's default. Admin callers are not limited. In memory, per node.
 */
export class FunctionRateLimit {
  readonly #registry: FunctionRegistry;
  readonly #default: RateLimit;
  readonly #limiters = new Map<string, { limit: RateLimit; limiter: RateLimiter }>();

  constructor(registry: FunctionRegistry, perMinute: number) {
    this.#registry = registry;
    this.#default = { max: perMinute, windowMs: 60_000 };
  }

  /** Counts one call of `name`; throws RATE_LIMITED past the limit. Unknown names pass (the call then fails FN_NOT_FOUND). */
  hit(name: string, auth: AuthContext, anonymousKey: string): void {
    if (auth.isAdmin) return;
    const fn = this.#registry.get(name);
    if (!fn) return;
    const limit = fn.definition.rateLimit ?? this.#default;
    let entry = this.#limiters.get(name);
    // A reload may have changed the function's limit: start counting afresh then.
    if (!entry || entry.limit.max !== limit.max || entry.limit.windowMs !== limit.windowMs) {
      entry = { limit, limiter: new RateLimiter(limit.max, limit.windowMs) };
      this.#limiters.set(name, entry);
    }
    entry.limiter.hit(auth.userId === null ? `anon:${anonymousKey}` : `user:${auth.userId}`);
  }
}
