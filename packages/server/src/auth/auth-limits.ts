import { createHash } from 'node:crypto';
import { errors } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { systemClock, type Clock } from '../clock/clock.js';

/** At most `max` hits per `windowMs`; `max` 0 turns the limit off. */
export interface Limit {
  readonly max: number;
  readonly windowMs: number;
}

/** One counter to hit: a bucket, whom it counts (an address, an email, an account) and its limit. */
export interface LimitKey {
  readonly bucket: string;
  readonly subject: string;
  readonly limit: Limit;
}

/**
 * Rate limits of the auth endpoints, counted in the database so every node of a cluster shares
 * them. Keys are hashed, so the table holds no addresses or emails.
 */
export class AuthLimits {
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(store: Store, clock: Clock = systemClock) {
    this.#store = store;
    this.#clock = clock;
  }

  /**
   * Counts one hit on each key (in one transaction) and throws RATE_LIMITED, with
   * `retry_after_secs` for the Retry-After header, when any of them is over its limit.
   */
  async hit(keys: readonly LimitKey[], now = this.#clock.now()): Promise<void> {
    const active = keys.filter((k) => k.limit.max > 0);
    if (active.length === 0) return;
    const counts = await this.#store.write(async (tx) => {
      const out = [];
      for (const key of active) {
        const hashed = createHash('sha256').update(`${key.bucket}\u0000${key.subject}`).digest('base64url');
        out.push({ key, count: await tx.auth.hitRate(`${key.bucket}:${hashed}`, key.limit.windowMs, now) });
      }
      return out;
    });
    let retryAfter = 0;
    for (const { key, count } of counts) {
      if (count.count > key.limit.max) retryAfter = Math.max(retryAfter, Math.max(1, Math.ceil((count.resetAt - now) / 1000)));
    }
    if (retryAfter > 0) throw errors.rateLimited(retryAfter, 'attempts');
  }
}
