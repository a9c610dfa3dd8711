import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/index.js';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('allows max requests per window per key, then answers RATE_LIMITED until the window turns', () => {
    const limiter = new RateLimiter(3, 60_000);
    for (let i = 0; i < 3; i++) limiter.hit('a', 1_000);
    limiter.hit('b', 1_000);
    let caught: unknown;
    try {
      limiter.hit('a', 31_000);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('RATE_LIMITED');
    expect((caught as AppError).extra?.retry_after_secs).toBeGreaterThan(0);
    expect(() => limiter.hit('a', 70_000)).not.toThrow();
  });

  it('is off at 0', () => {
    const limiter = new RateLimiter(0, 60_000);
    for (let i = 0; i < 10_000; i++) limiter.hit('a');
  });
});
