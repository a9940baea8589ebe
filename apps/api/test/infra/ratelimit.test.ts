import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { FlexibleRateLimiter } from '../../src/infra/ratelimit/flexible-rate-limiter.js';
import { describeRateLimiter, randomRule } from '../../src/infra/ratelimit/rate-limiter.contract.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describeRateLimiter('FlexibleRateLimiter (memory)', async () => ({
  impl: new FlexibleRateLimiter('memory'),
  cleanup: async () => {},
}));

describeRateLimiter('FlexibleRateLimiter (redis)', async () => {
  const redis = new Redis(redisUrl);
  return { impl: new FlexibleRateLimiter('redis', redis), cleanup: async () => redis.disconnect() };
});

describe('FlexibleRateLimiter (redis) across nodes', () => {
  const conns: Redis[] = [];
  afterEach(() => {
    for (const c of conns.splice(0)) c.disconnect();
  });

  it('two limiters on separate connections share one counter', async () => {
    const r1 = new Redis(redisUrl);
    const r2 = new Redis(redisUrl);
    conns.push(r1, r2);
    const a = new FlexibleRateLimiter('redis', r1);
    const b = new FlexibleRateLimiter('redis', r2);
    const rule = randomRule();
    const key = `k-${randomUUID()}`;
    try {
      expect(await a.consume(rule, key)).toMatchObject({ allowed: true, remaining: 2 });
      expect(await b.consume(rule, key)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await a.peek(rule, key)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await a.consume(rule, key)).toMatchObject({ allowed: true, remaining: 0 });
      const refused = await b.consume(rule, key);
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterS).toBeGreaterThanOrEqual(1);
      expect((await a.peek(rule, key)).allowed).toBe(false);
      // A reset on one node frees the key for the other.
      await b.reset(rule, key);
      expect(await a.consume(rule, key)).toMatchObject({ allowed: true, remaining: 2 });
    } finally {
      await a.reset(rule, key);
    }
  });
});
