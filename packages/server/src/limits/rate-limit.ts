import { errors } from '../errors/index.js';

/**
 * A fixed-window request counter per client address. In memory, so each node limits on its
 * own; limits that must hold across nodes (auth) live in the database instead.
 */
export class RateLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  #windowStart = Number.NEGATIVE_INFINITY; // the first hit opens the first window
  #counts = new Map<string, number>();

  /** `max` requests per `windowMs` per key; `max` 0 turns the limiter off. */
  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  /** Counts one request for `key`; throws RATE_LIMITED (with `retry_after_secs`) past the limit. */
  hit(key: string, now = Date.now()): void {
    if (this.#max === 0) return;
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#counts = new Map();
    }
    const count = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, count);
    if (count > this.#max) {
      const retryAfter = Math.max(1, Math.ceil((this.#windowStart + this.#windowMs - now) / 1000));
      throw errors.rateLimited(retryAfter);
    }
  }
}
