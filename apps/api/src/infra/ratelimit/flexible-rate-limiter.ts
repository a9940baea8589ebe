import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { LimitRule, LimitState, RateLimiter } from './rate-limiter.js';

const retryAfter = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** rate-limiter-flexible underneath: Redis-backed across nodes, or memory for the embedded default. */
export class FlexibleRateLimiter implements RateLimiter {
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(
    readonly backend: 'redis' | 'memory',
    private readonly redis?: Redis,
  ) {}

  private limiter(rule: LimitRule): RateLimiterAbstract {
    const id = `${rule.name}:${rule.points}:${rule.durationS}`;
    let l = this.limiters.get(id);
    if (!l) {
      const opts = { keyPrefix: `st:rl:${rule.name}`, points: rule.points, duration: rule.durationS };
      l = this.redis ? new RateLimiterRedis({ ...opts, storeClient: this.redis }) : new RateLimiterMemory(opts);
      this.limiters.set(id, l);
    }
    return l;
  }

  async consume(rule: LimitRule, key: string, points = 1): Promise<LimitState> {
    try {
      const res = await this.limiter(rule).consume(key, points);
      return { allowed: true, remaining: res.remainingPoints, retryAfterS: 0 };
    } catch (e) {
      if (e instanceof RateLimiterRes) return { allowed: false, remaining: 0, retryAfterS: retryAfter(e.msBeforeNext) };
      throw e;
    }
  }

  async peek(rule: LimitRule, key: string): Promise<LimitState> {
    const res = await this.limiter(rule).get(key);
    if (!res || res.consumedPoints < rule.points) {
      return { allowed: true, remaining: rule.points - (res?.consumedPoints ?? 0), retryAfterS: 0 };
    }
    return { allowed: false, remaining: 0, retryAfterS: retryAfter(res.msBeforeNext) };
  }

  async reset(rule: LimitRule, key: string): Promise<void> {
    await this.limiter(rule).delete(key);
  }
}
