import type { Redis } from 'ioredis';
import type { Kv } from './kv.js';

const PREFIX = 'st:kv:';

export class RedisKv implements Kv {
  readonly backend = 'redis' as const;

  constructor(private readonly redis: Redis) {}

  async get(key: string): Promise<string | null> {
    return this.redis.get(PREFIX + key);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs) await this.redis.set(PREFIX + key, value, 'PX', ttlMs);
    else await this.redis.set(PREFIX + key, value);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(PREFIX + key, value, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    // One round trip, atomic: the TTL is set only by the call that created the key.
    const [[, n]] = (await this.redis
      .multi()
      .incr(PREFIX + key)
      .pexpire(PREFIX + key, ttlMs, 'NX')
      .exec()) as [[Error | null, number], unknown];
    return n;
  }

  async del(key: string): Promise<void> {
    await this.redis.del(PREFIX + key);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {}
}
