import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LimitRule, RateLimiter } from './rate-limiter.js';

export interface RateLimiterSubject {
  impl: RateLimiter;
  cleanup: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A rule with a random name, so parallel runs against one Redis never share counters. */
export const randomRule = (points = 3, durationS = 1): LimitRule => ({
  name: `contract-${randomUUID()}`,
  points,
  durationS,
});

/** The behaviour every RateLimiter must show; the memory and Redis limiters both run it. */
export function describeRateLimiter(label: string, make: () => Promise<RateLimiterSubject>): void {
  describe(`RateLimiter contract: ${label}`, () => {
    let subject: RateLimiterSubject;
    let limiter: RateLimiter;
    const used: Array<[LimitRule, string]> = [];
    const randomKey = (rule: LimitRule) => {
      const key = `k-${randomUUID()}`;
      used.push([rule, key]);
      return key;
    };

    beforeEach(async () => {
      subject = await make();
      limiter = subject.impl;
    });
    afterEach(async () => {
      try {
        await Promise.all(used.splice(0).map(([rule, key]) => limiter.reset(rule, key)));
      } finally {
        await subject.cleanup();
      }
    });

    it('allows `points` consumes with a falling remainder, then refuses with a retry-after', async () => {
      const rule = randomRule();
      const key = randomKey(rule);
      expect(await limiter.consume(rule, key)).toEqual({ allowed: true, remaining: 2, retryAfterS: 0 });
      expect(await limiter.consume(rule, key)).toEqual({ allowed: true, remaining: 1, retryAfterS: 0 });
      expect(await limiter.consume(rule, key)).toEqual({ allowed: true, remaining: 0, retryAfterS: 0 });
      const refused = await limiter.consume(rule, key);
      expect(refused.allowed).toBe(false);
      expect(refused.remaining).toBe(0);
      expect(refused.retryAfterS).toBeGreaterThanOrEqual(1);
      expect(refused.retryAfterS).toBeLessThanOrEqual(rule.durationS);
      expect(Number.isInteger(refused.retryAfterS)).toBe(true);
      // Still refused: a refused call does not open the window.
      expect((await limiter.consume(rule, key)).allowed).toBe(false);
    });

    it('peek reports the state without consuming', async () => {
      const rule = randomRule();
      const key = randomKey(rule);
      expect(await limiter.peek(rule, key)).toEqual({ allowed: true, remaining: 3, retryAfterS: 0 });
      expect(await limiter.peek(rule, key)).toEqual({ allowed: true, remaining: 3, retryAfterS: 0 });
      await limiter.consume(rule, key);
      expect(await limiter.peek(rule, key)).toEqual({ allowed: true, remaining: 2, retryAfterS: 0 });
      expect(await limiter.peek(rule, key)).toEqual({ allowed: true, remaining: 2, retryAfterS: 0 });
      expect(await limiter.consume(rule, key)).toMatchObject({ allowed: true, remaining: 1 });
      await limiter.consume(rule, key);
      await limiter.consume(rule, key);
      const blocked = await limiter.peek(rule, key);
      expect(blocked.allowed).toBe(false);
      expect(blocked.remaining).toBe(0);
      expect(blocked.retryAfterS).toBeGreaterThanOrEqual(1);
    });

    it('counts different keys independently', async () => {
      const rule = randomRule();
      const a = randomKey(rule);
      const b = randomKey(rule);
      for (let i = 0; i < 3; i++) await limiter.consume(rule, a);
      expect((await limiter.consume(rule, a)).allowed).toBe(false);
      expect(await limiter.consume(rule, b)).toEqual({ allowed: true, remaining: 2, retryAfterS: 0 });
      expect(await limiter.peek(rule, b)).toMatchObject({ allowed: true, remaining: 2 });
    });

    it('counts different rule names with the same key independently', async () => {
      const r1 = randomRule();
      const r2 = randomRule();
      const key = randomKey(r1);
      used.push([r2, key]);
      for (let i = 0; i < 3; i++) await limiter.consume(r1, key);
      expect((await limiter.consume(r1, key)).allowed).toBe(false);
      expect(await limiter.peek(r2, key)).toEqual({ allowed: true, remaining: 3, retryAfterS: 0 });
      expect(await limiter.consume(r2, key)).toEqual({ allowed: true, remaining: 2, retryAfterS: 0 });
    });

    it('reset frees the key', async () => {
      const rule = randomRule();
      const key = randomKey(rule);
      for (let i = 0; i < 4; i++) await limiter.consume(rule, key);
      expect((await limiter.peek(rule, key)).allowed).toBe(false);
      await limiter.reset(rule, key);
      expect(await limiter.peek(rule, key)).toEqual({ allowed: true, remaining: 3, retryAfterS: 0 });
      expect(await limiter.consume(rule, key)).toEqual({ allowed: true, remaining: 2, retryAfterS: 0 });
      // Resetting an unknown key resolves.
      await expect(limiter.reset(rule, randomKey(rule))).resolves.toBeUndefined();
    });

    it('allows again once the window has passed', async () => {
      const rule = randomRule();
      const key = randomKey(rule);
      for (let i = 0; i < 3; i++) await limiter.consume(rule, key);
      expect((await limiter.consume(rule, key)).allowed).toBe(false);
      await sleep(1_100);
      expect(await limiter.peek(rule, key)).toEqual({ allowed: true, remaining: 3, retryAfterS: 0 });
      expect(await limiter.consume(rule, key)).toEqual({ allowed: true, remaining: 2, retryAfterS: 0 });
    });

    it('consume with points counts that many', async () => {
      const rule = randomRule();
      const key = randomKey(rule);
      expect(await limiter.consume(rule, key, 2)).toEqual({ allowed: true, remaining: 1, retryAfterS: 0 });
      expect(await limiter.peek(rule, key)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await limiter.consume(rule, key, 2)).toMatchObject({ allowed: false, remaining: 0 });
      const other = randomKey(rule);
      expect(await limiter.consume(rule, other, 3)).toEqual({ allowed: true, remaining: 0, retryAfterS: 0 });
      expect((await limiter.consume(rule, other)).allowed).toBe(false);
    });

    it('concurrent consumes never allow more than the budget', async () => {
      const rule = randomRule(5, 10);
      const key = randomKey(rule);
      const results = await Promise.all(Array.from({ length: 12 }, () => limiter.consume(rule, key)));
      expect(results.filter((r) => r.allowed)).toHaveLength(5);
      expect(
        results
          .filter((r) => r.allowed)
          .map((r) => r.remaining)
          .sort(),
      ).toEqual([0, 1, 2, 3, 4]);
    });
  });
}
