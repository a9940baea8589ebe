import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Client as MinioClient } from 'minio';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { BlobStore } from './blob/blob-store.js';
import { DiskBlobStore } from './blob/disk-blob-store.js';
import { MinioBlobStore } from './blob/minio-blob-store.js';
import { BlobUrlSigner } from './blob/url-signer.js';
import { loadOrCreateSecret } from './secrets.js';
import type { Broker } from './broker/broker.js';
import { MemoryBroker } from './broker/memory-broker.js';
import { RedisBroker } from './broker/redis-broker.js';
import { type Db, openDb } from './db/db.js';
import type { Kv } from './kv/kv.js';
import { MemoryKv } from './kv/memory-kv.js';
import { RedisKv } from './kv/redis-kv.js';
import { FlexibleRateLimiter } from './ratelimit/flexible-rate-limiter.js';
import type { RateLimiter } from './ratelimit/rate-limiter.js';
import { ConsoleSmsSender } from './sms/console-sms-sender.js';
import type { SmsSender } from './sms/sms-sender.js';
import { WebhookSmsSender } from './sms/webhook-sms-sender.js';

export interface Infra {
  db: Db;
  broker: Broker;
  kv: Kv;
  limiter: RateLimiter;
  blobs: BlobStore;
  /** Signs the API-served blob URLs of the disk backend; null with S3 (it presigns itself). */
  blobUrls: BlobUrlSigner | null;
  sms: SmsSender;
  /** Redis answers (when configured); null in memory mode. */
  pingRedis: (() => Promise<void>) | null;
  close(): Promise<void>;
}

// ioredis and minio are loaded only when configured (~12 MB and ~40 MB resident otherwise spent for nothing).

export async function redisClient(url: string, log: Logger, name: string): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, {
    connectionName: `snaptalker-${name}`,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    // Commands issued in the same tick (the publishes of one batch, limiter calls) share one write.
    enableAutoPipelining: true,
  });
  r.on('error', (err) => log.warn({ err: err.message, conn: name }, 'redis error'));
  return r;
}

/** The disk backend's blob route for an object key (`attachments/<id>`, see services/attachments). */
const blobPathForKey = (key: string) => `/api/v1/attachments/${key.split('/').at(-1)}/blob`;

/** Picks one implementation per interface from the config; nothing else decides backends. */
export async function buildInfra(config: Config, log: Logger): Promise<Infra> {
  const db = await openDb({
    url: config.DATABASE_URL,
    dataDir: config.dataDir,
    poolMax: config.DATABASE_POOL_MAX,
    log,
  });

  let broker: Broker;
  let kv: Kv;
  let limiter: RateLimiter;
  let redis: Redis | undefined;
  let redisSub: Redis | undefined;
  if (config.REDIS_URL) {
    redis = await redisClient(config.REDIS_URL, log, 'main');
    redisSub = await redisClient(config.REDIS_URL, log, 'sub');
    broker = new RedisBroker(redis, redisSub);
    kv = new RedisKv(redis);
    limiter = new FlexibleRateLimiter('redis', redis);
  } else {
    broker = new MemoryBroker();
    kv = new MemoryKv();
    limiter = new FlexibleRateLimiter('memory');
  }

  let blobs: BlobStore;
  let blobUrls: BlobUrlSigner | null = null;
  if (config.S3_ENDPOINT) {
    blobs = new MinioBlobStore(await minioClient(config), config.S3_BUCKET, config.S3_REGION);
  } else {
    // Signed with a key derived from JWT_SECRET, so every node that shares it accepts the others' URLs.
    const jwtSecret = await loadOrCreateSecret(config.JWT_SECRET, config.dataDir, 'jwt');
    const key = createHmac('sha256', jwtSecret).update('snaptalker attachment urls v1').digest();
    blobUrls = new BlobUrlSigner(key, blobPathForKey, config.PUBLIC_URL);
    blobs = new DiskBlobStore(join(config.dataDir, 'blobs'), blobUrls);
  }

  const sms: SmsSender = config.OTP_WEBHOOK_URL
    ? new WebhookSmsSender(config.OTP_WEBHOOK_URL, config.OTP_WEBHOOK_TIMEOUT_MS, log)
    : new ConsoleSmsSender(log);

  return {
    db,
    broker,
    kv,
    limiter,
    blobs,
    blobUrls,
    sms,
    pingRedis: redis ? async () => void (await redis.ping()) : null,
    async close() {
      // Each resource is released even if another fails to close.
      const results = await Promise.allSettled([broker.close(), kv.close()]);
      redis?.disconnect();
      redisSub?.disconnect();
      results.push(...(await Promise.allSettled([db.close()])));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

async function minioClient(config: Config): Promise<MinioClient> {
  const { Client } = await import('minio');
  const u = new URL(config.S3_ENDPOINT as string);
  return new Client({
    endPoint: u.hostname,
    port: u.port ? Number(u.port) : undefined,
    useSSL: u.protocol === 'https:',
    accessKey: config.S3_ACCESS_KEY as string,
    secretKey: config.S3_SECRET_KEY as string,
    region: config.S3_REGION,
    pathStyle: true,
  });
}
