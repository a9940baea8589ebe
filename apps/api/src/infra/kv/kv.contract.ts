import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Kv } from './kv.js';

export interface KvSubject {
  impl: Kv;
  cleanup: () => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `read` yields `expected`, failing after `timeoutMs`. */
async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (v === expected) return;
    if (Date.now() > end) throw new Error(`still ${JSON.stringify(v)}, expected ${JSON.stringify(expected)}`);
    await sleep(10);
  }
}

/** The behaviour every Kv must show; the memory and Redis stores both run it. */
export function describeKv(label: string, make: () => Promise<KvSubject>): void {
  describe(`Kv contract: ${label}`, () => {
    let subject: KvSubject;
    let kv: Kv;
    const used: string[] = [];
    // Random names, so parallel runs against one Redis never collide; deleted after each test.
    const randomKey = () => {
      const key = `contract:kv:${randomUUID()}`;
      used.push(key);
      return key;
    };

    beforeEach(async () => {
      subject = await make();
      kv = subject.impl;
    });
    afterEach(async () => {
      try {
        await Promise.all(used.splice(0).map((k) => kv.del(k)));
      } finally {
        await subject.cleanup();
      }
    });

    it('get of a missing key is null', async () => {
      expect(await kv.get(randomKey())).toBeNull();
    });

    it('set then get returns the value; set overwrites', async () => {
      const key = randomKey();
      await kv.set(key, 'v1');
      expect(await kv.get(key)).toBe('v1');
      await kv.set(key, 'значение 👋 "x"\n');
      expect(await kv.get(key)).toBe('значение 👋 "x"\n');
      await kv.set(key, '');
      expect(await kv.get(key)).toBe('');
    });

    it('keys are independent', async () => {
      const a = randomKey();
      const b = randomKey();
      await kv.set(a, 'A');
      await kv.set(b, 'B');
      expect(await kv.get(a)).toBe('A');
      expect(await kv.get(b)).toBe('B');
    });

    it('set with a ttl expires', async () => {
      const key = randomKey();
      const persistent = randomKey();
      await kv.set(key, 'short', 150);
      await kv.set(persistent, 'stays');
      expect(await kv.get(key)).toBe('short');
      await sleep(200);
      expect(await kv.get(key)).toBeNull();
      expect(await kv.get(persistent)).toBe('stays');
    });

    it('set without a ttl clears an earlier ttl', async () => {
      const key = randomKey();
      await kv.set(key, 'short', 150);
      await kv.set(key, 'forever');
      await sleep(200);
      expect(await kv.get(key)).toBe('forever');
    });

    it('setIfAbsent sets only when absent, and again after expiry', async () => {
      const key = randomKey();
      expect(await kv.setIfAbsent(key, 'first', 150)).toBe(true);
      expect(await kv.setIfAbsent(key, 'second', 150)).toBe(false);
      expect(await kv.get(key)).toBe('first');
      await sleep(200);
      expect(await kv.get(key)).toBeNull();
      expect(await kv.setIfAbsent(key, 'third', 150)).toBe(true);
      expect(await kv.get(key)).toBe('third');
    });

    it('setIfAbsent is false for a key set without ttl', async () => {
      const key = randomKey();
      await kv.set(key, 'plain');
      expect(await kv.setIfAbsent(key, 'other', 10_000)).toBe(false);
      expect(await kv.get(key)).toBe('plain');
    });

    it('concurrent setIfAbsent: exactly one caller wins', async () => {
      const key = randomKey();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => kv.setIfAbsent(key, `v${i}`, 10_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await kv.get(key)).toBe(`v${results.indexOf(true)}`);
    });

    it('incr counts from absent (1, 2, ...) and keeps the TTL of the first call', async () => {
      const key = randomKey();
      const ttl = 400;
      const t0 = Date.now();
      expect(await kv.incr(key, ttl)).toBe(1);
      expect(await kv.get(key)).toBe('1');
      await sleep(250);
      // Were the TTL re-applied here, the key would live until at least t0 + 650 ms.
      expect(await kv.incr(key, ttl)).toBe(2);
      expect(await kv.get(key)).toBe('2');
      await sleep(Math.max(0, t0 + 520 - Date.now()));
      expect(await kv.get(key)).toBeNull();
      // Counting starts over once the key has expired.
      expect(await kv.incr(key, ttl)).toBe(1);
    });

    it('concurrent incr never loses a count', async () => {
      const key = randomKey();
      const results = await Promise.all(Array.from({ length: 20 }, () => kv.incr(key, 10_000)));
      expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(await kv.get(key)).toBe('20');
    });

    it('del removes a key; del of a missing key resolves', async () => {
      const key = randomKey();
      await kv.set(key, 'x');
      await kv.del(key);
      expect(await kv.get(key)).toBeNull();
      await expect(kv.del(randomKey())).resolves.toBeUndefined();
      // A deleted counter starts over.
      await kv.incr(key, 10_000);
      await kv.incr(key, 10_000);
      await kv.del(key);
      expect(await kv.incr(key, 10_000)).toBe(1);
    });

    it('an expired key eventually reads as null without any further writes', async () => {
      const key = randomKey();
      await kv.set(key, 'x', 50);
      await eventually(() => kv.get(key), null);
    });

    it('ping resolves', async () => {
      await expect(kv.ping()).resolves.toBeUndefined();
    });
  });
}
