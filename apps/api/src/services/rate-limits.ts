import { AppError } from '../domain/errors.js';
import type { LimitRule, RateLimiter } from '../infra/ratelimit/rate-limiter.js';

/** The one helper every service uses to apply a limit, whatever transport the call came from. */
export class Limits {
  constructor(private readonly limiter: RateLimiter) {}

  async consume(rule: LimitRule, key: string, points = 1): Promise<void> {
    const s = await this.limiter.consume(rule, key, points);
    if (!s.allowed) throw rateLimited(s.retryAfterS);
  }

  /** Throws when the budget is already spent, without counting (for "N failures" limits). */
  async check(rule: LimitRule, key: string): Promise<void> {
    const s = await this.limiter.peek(rule, key);
    if (!s.allowed) throw rateLimited(s.retryAfterS);
  }

  async fail(rule: LimitRule, key: string): Promise<void> {
    await this.limiter.consume(rule, key);
  }

  reset(rule: LimitRule, key: string): Promise<void> {
    return this.limiter.reset(rule, key);
  }
}

export function rateLimited(retryAfterS: number): AppError {
  return new AppError(
    'RATE_LIMITED',
    `too many requests; retry in ${retryAfterS} s`,
    { retryAfter: retryAfterS },
    retryAfterS,
  );
}
