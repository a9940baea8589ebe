import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { startTestServer } from '../helpers/server.js';
import { TcpProxy, waitFor } from '../helpers/tcp-proxy.js';

describe('/ready follows PostgreSQL and Redis reachability', () => {
  let server: RunningServer;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;

  beforeAll(async () => {
    const db = new URL(inject('databaseUrl'));
    const redis = new URL(inject('redisUrl'));
    pgProxy = await new TcpProxy(db.hostname, Number(db.port || 5432)).start();
    redisProxy = await new TcpProxy(redis.hostname, Number(redis.port || 6379)).start();
    db.host = `127.0.0.1:${pgProxy.port}`;
    redis.host = `127.0.0.1:${redisProxy.port}`;
    server = await startTestServer({ DATABASE_URL: db.toString(), REDIS_URL: redis.toString() });
  });
  afterAll(async () => {
    await server.close();
    await pgProxy.stop();
    await redisProxy.stop();
  });

  const ready = async () => {
    const res = await fetch(`${server.url}/ready`);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('turns 503 naming the database within 5 s of PostgreSQL going away, and 200 when it returns', async () => {
    expect((await ready()).status).toBe(200);
    pgProxy.cut();
    const t0 = Date.now();
    const down = await waitFor(async () => {
      const r = await ready();
      return r.status === 503 ? r : undefined;
    }, 5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(down.body.error.code).toBe('UNAVAILABLE');
    expect(down.body.error.message).toContain('database');
    expect(down.body.error.details.checks.database).toMatchObject({ backend: 'postgres', ok: false });
    expect(down.body.error.details.checks.redis).toMatchObject({ backend: 'redis', ok: true });
    // /health is liveness only: still 200.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);

    pgProxy.restore();
    await waitFor(async () => (await ready()).status === 200, 10_000);
  });

  it('turns 503 naming redis when Redis goes away, and recovers', async () => {
    redisProxy.cut();
    const down = await waitFor(async () => {
      const r = await ready();
      return r.status === 503 ? r : undefined;
    }, 5_000);
    expect(down.body.error.details.checks.redis).toMatchObject({ backend: 'redis', ok: false });
    expect(down.body.error.details.checks.database.ok).toBe(true);
    redisProxy.restore();
    await waitFor(async () => (await ready()).status === 200, 10_000);
  });
});
