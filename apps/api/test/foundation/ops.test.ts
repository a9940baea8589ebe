import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { startTestServer } from '../helpers/server.js';

describe('operations endpoints on PostgreSQL + Redis', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('GET /health is 200 {status: ok}', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('GET /ready names the live backends: postgres, redis, disk', async () => {
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ok',
      checks: {
        database: { backend: 'postgres', ok: true },
        redis: { backend: 'redis', ok: true },
        storage: { backend: 'disk', ok: true },
      },
    });
  });

  it('GET /metrics exposes process metrics, the request histogram by route and status, and the WS gauge', async () => {
    await fetch(`${server.url}/health`);
    await fetch(`${server.url}/no/such/route`);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\} [1-9]/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} [1-9]/);
    expect(text).toContain('# TYPE ws_connections gauge');
  });

  it('echoes a sane x-request-id and replaces a hostile one', async () => {
    const ok = await fetch(`${server.url}/health`, { headers: { 'x-request-id': 'abc-123' } });
    expect(ok.headers.get('x-request-id')).toBe('abc-123');
    const bad = await fetch(`${server.url}/health`, { headers: { 'x-request-id': 'x'.repeat(200) } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
