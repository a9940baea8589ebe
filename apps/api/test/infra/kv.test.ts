import { Redis } from 'ioredis';
import { describeKv } from '../../src/infra/kv/kv.contract.js';
import { MemoryKv } from '../../src/infra/kv/memory-kv.js';
import { RedisKv } from '../../src/infra/kv/redis-kv.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describeKv('MemoryKv', async () => {
  const impl = new MemoryKv();
  return { impl, cleanup: () => impl.close() };
});

describeKv('RedisKv', async () => {
  const redis = new Redis(redisUrl);
  const impl = new RedisKv(redis);
  return {
    impl,
    cleanup: async () => {
      await impl.close();
      redis.disconnect();
    },
  };
});
