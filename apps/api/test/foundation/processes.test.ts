import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { client, randomPhone, randomUsername } from '../helpers/api.js';
import { runServerToExit, type ServerProcess, spawnServer } from '../helpers/process.js';
import { waitFor } from '../helpers/tcp-proxy.js';
import { TestSocket } from '../helpers/ws-client.js';

const started: ServerProcess[] = [];
afterAll(() => {
  for (const s of started) s.kill('SIGKILL');
});

async function tmpData() {
  return mkdtemp(join(tmpdir(), 'st-proc-'));
}

describe('the server as a process', () => {
  it('starts on the embedded default with no DATABASE_URL/REDIS_URL (PGlite, memory, disk) and keeps data across restarts', async () => {
    const dataDir = await tmpData();
    const s = await spawnServer({ DATA_DIR: dataDir, PORT: '0', GRPC_PORT: '0' });
    started.push(s);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    const ready = (await (await fetch(`${s.url}/ready`)).json()) as any;
    expect(ready.checks).toEqual({
      database: { backend: 'pglite', ok: true },
      redis: { backend: 'memory', ok: true },
      storage: { backend: 'disk', ok: true },
    });
    s.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    // Second start on the same data directory: migrations already applied, still healthy.
    const again = await spawnServer({ DATA_DIR: dataDir, PORT: '0', GRPC_PORT: '0' });
    started.push(again);
    expect(again.output()).not.toContain('applied migration');
    expect((await fetch(`${again.url}/ready`)).status).toBe(200);
    again.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  }, 90_000);

  it('two servers started at once on one empty database both come up; each migration runs once', async () => {
    const name = `st_twin_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    const url = new URL(inject('adminDatabaseUrl'));
    url.pathname = `/${name}`;
    try {
      const env = async () => ({
        DATABASE_URL: url.toString(),
        REDIS_URL: inject('redisUrl'),
        DATA_DIR: await tmpData(),
        PORT: '0',
        GRPC_PORT: '0',
      });
      const [a, b] = await Promise.all([spawnServer(await env()), spawnServer(await env())]);
      started.push(a, b);
      for (const s of [a, b]) expect((await fetch(`${s.url}/ready`)).status).toBe(200);
      const applied =
        (a.output().match(/applied migration/g) ?? []).length + (b.output().match(/applied migration/g) ?? []).length;
      const c = new pg.Client({ connectionString: url.toString() });
      await c.connect();
      const rows = await c.query('SELECT migration_name, count(*)::int AS n FROM _prisma_migrations GROUP BY 1');
      await c.end();
      expect(rows.rows.length).toBeGreaterThan(0);
      expect(rows.rows.every((r) => r.n === 1)).toBe(true);
      expect(applied).toBe(rows.rows.length);
      a.kill('SIGTERM');
      b.kill('SIGTERM');
      await Promise.all([a.exited, b.exited]);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  }, 90_000);

  it('SIGTERM: an open message stream gets 1001, then exit 0 within 10 s', async () => {
    const s = await spawnServer({ DATA_DIR: await tmpData(), PORT: '0', GRPC_PORT: '0' });
    started.push(s);
    // The embedded default logs OTP codes: read it from the server's own output.
    const api = client(s.url);
    const phone = randomPhone();
    expect(
      (await api.post('/auth/register', { username: randomUsername(), phone, password: 'password123' })).status,
    ).toBe(201);
    const code = await waitFor(async () => new RegExp(`OTP for \\${phone}: (\\d{6})`).exec(s.output())?.[1], 5_000);
    const session = await api.post('/auth/verify', { phone, code });
    const ws = await TestSocket.connect(s.url, session.body.accessToken);
    await ws.next((f) => f.type === 'queue.empty');
    const t0 = Date.now();
    s.kill('SIGTERM');
    expect((await ws.closed).code).toBe(1001);
    const { code: exitCode } = await s.exited;
    expect(exitCode, s.output()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 90_000);

  it('bad configuration: exit 1 with one line naming the variable', async () => {
    const r = await runServerToExit({ PORT: 'not-a-port', DATA_DIR: await tmpData() });
    expect(r.code).toBe(1);
    expect(r.output.trim().split('\n')).toHaveLength(1);
    expect(r.output).toContain('PORT');
    const r2 = await runServerToExit({ DATABASE_URL: 'nope', DATA_DIR: await tmpData() });
    expect(r2.code).toBe(1);
    expect(r2.output).toContain('DATABASE_URL');
  });
});
