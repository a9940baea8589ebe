import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { client, createUser, type TestUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startOwnPostgres, startOwnRedis } from '../helpers/own-services.js';
import { startTestServer } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { TestSocket } from '../helpers/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const blob = (s: string) => Buffer.from(s).toString('base64');

/**
 * Real faults on instances the test owns: senders keep sending through a PostgreSQL restart and a
 * Redis restart; every send that got a 200 must reach the recipient (exactly once after dedupe by
 * id), failed sends must be 503 (never 500), and the node recovers without a restart.
 */
describe('faults under load (own PostgreSQL and Redis)', () => {
  let pg: Awaited<ReturnType<typeof startOwnPostgres>>;
  let redis: Awaited<ReturnType<typeof startOwnRedis>>;
  let otp: OtpWebhook;
  let server: RunningServer;

  beforeAll(async () => {
    [pg, redis, otp] = await Promise.all([startOwnPostgres(), startOwnRedis(), new OtpWebhook().start()]);
    server = await startTestServer({
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      OTP_WEBHOOK_URL: otp.url,
      READY_CHECK_TIMEOUT_MS: '500',
    });
  }, 120_000);
  afterAll(async () => {
    await server?.close().catch(() => {});
    await Promise.all([pg?.destroy(), redis?.destroy(), otp?.stop()]);
  });

  async function withKeys(): Promise<{ user: TestUser; registrationId: number }> {
    const api = client(server.url);
    const user = await createUser(api, otp);
    const d = await SignalDevice.create({ userId: user.userId, deviceId: 1 });
    const r = await api.post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
      token: user.accessToken,
    });
    expect(r.status).toBe(200);
    return { user, registrationId: d.registrationId };
  }

  /** A recipient that reconnects whenever its socket goes, acking everything it gets. */
  function reconnectingReceiver(token: string) {
    const received = new Map<string, number>();
    let stopped = false;
    let reconnects = 0;
    const loop = (async () => {
      while (!stopped) {
        try {
          const s = await TestSocket.connect(server.url, token);
          s.ws.on('message', (d) => {
            const f = JSON.parse(d.toString());
            if (f.type !== 'message') return;
            received.set(f.envelope.id, (received.get(f.envelope.id) ?? 0) + 1);
            s.send({ type: 'ack', ids: [f.envelope.id] });
          });
          const closed = s.closed;
          while (!stopped && s.ws.readyState === s.ws.OPEN) await Promise.race([closed, sleep(100)]);
          s.ws.terminate();
        } catch {
          // Upgrade refused during the outage: try again.
        }
        if (!stopped) {
          reconnects++;
          await sleep(200);
        }
      }
    })();
    return {
      received,
      get reconnects() {
        return reconnects;
      },
      async stop() {
        stopped = true;
        await loop;
      },
    };
  }

  /** `n` senders sending one message at a time until `stop`; what was accepted and how others failed. */
  function senders(n: number, from: TestUser, to: { user: TestUser; registrationId: number }) {
    const api = client(server.url);
    const accepted = new Set<string>();
    const failures = new Map<number, number>();
    let stopped = false;
    const loops = Array.from({ length: n }, async (_, k) => {
      for (let i = 0; !stopped && i < 5_000; i++) {
        const r = await api
          .post(
            '/messages/send',
            {
              recipientId: to.user.userId,
              clientMessageId: randomUUID(),
              messages: [
                { deviceId: 1, registrationId: to.registrationId, type: 'message', content: blob(`${k}:${i}`) },
              ],
            },
            { token: from.accessToken },
          )
          .catch(() => ({ status: 0, body: null }));
        if (r.status === 200) accepted.add(r.body.messages[0].messageId);
        else failures.set(r.status, (failures.get(r.status) ?? 0) + 1);
        await sleep(r.status === 200 ? 5 : 100);
      }
    });
    return {
      accepted,
      failures,
      async stop() {
        stopped = true;
        await Promise.all(loops);
      },
    };
  }

  async function expectAllDelivered(accepted: Set<string>, received: Map<string, number>) {
    for (let i = 0; i < 300 && [...accepted].some((id) => !received.has(id)); i++) await sleep(100);
    const missing = [...accepted].filter((id) => !received.has(id));
    expect(missing, 'accepted sends never delivered').toEqual([]);
  }

  it('PostgreSQL restarted mid-load: sends answer 503 meanwhile, /ready says so, and every 200 is delivered', async () => {
    const alice = await withKeys();
    const bob = await withKeys();
    const rx = reconnectingReceiver(bob.user.accessToken);
    const tx = senders(4, alice.user, bob);
    await sleep(1_500);
    const before = tx.accepted.size;
    expect(before).toBeGreaterThan(0);

    await pg.stop();
    let sawNotReady = false;
    for (let i = 0; i < 40 && !sawNotReady; i++) {
      sawNotReady = (await fetch(`${server.url}/ready`)).status === 503;
      await sleep(100);
    }
    await sleep(1_500);
    await pg.start();
    // Recovery without a restart of the API: sends succeed again.
    const atRestart = tx.accepted.size;
    for (let i = 0; i < 200 && tx.accepted.size < atRestart + 20; i++) await sleep(100);
    await tx.stop();

    expect(sawNotReady).toBe(true);
    expect(tx.accepted.size).toBeGreaterThan(atRestart);
    expect(tx.failures.get(503) ?? 0).toBeGreaterThan(0);
    // Every failure was a clean 503: no 500, no dropped connection.
    expect([...tx.failures.keys()].filter((s) => s !== 503)).toEqual([]);
    await expectAllDelivered(tx.accepted, rx.received);
    await rx.stop();
    console.log(
      `PostgreSQL restart: ${tx.accepted.size} sends accepted, ${tx.failures.get(503)} answered 503, ` +
        `${rx.reconnects} receiver reconnects, 0 lost`,
    );
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
  }, 120_000);

  it('Redis restarted mid-load: delivery continues, limits recover, every 200 is delivered', async () => {
    const alice = await withKeys();
    const bob = await withKeys();
    const rx = reconnectingReceiver(bob.user.accessToken);
    const tx = senders(4, alice.user, bob);
    await sleep(1_500);
    expect(tx.accepted.size).toBeGreaterThan(0);

    await redis.stop();
    await sleep(2_000);
    await redis.start();
    const atRestart = tx.accepted.size;
    for (let i = 0; i < 200 && tx.accepted.size < atRestart + 20; i++) await sleep(100);
    await tx.stop();

    expect(tx.accepted.size).toBeGreaterThan(atRestart);
    expect([...tx.failures.keys()].filter((s) => s !== 503)).toEqual([]);
    await expectAllDelivered(tx.accepted, rx.received);
    await rx.stop();
    console.log(
      `Redis restart: ${tx.accepted.size} sends accepted, ${tx.failures.get(503) ?? 0} answered 503, ` +
        `${rx.reconnects} receiver reconnects, 0 lost`,
    );
    // Limits work again (Redis-backed): the rate limiter answers.
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
  }, 120_000);
});

describe('network cut to PostgreSQL longer than the pool timeouts (test-owned proxy)', () => {
  let proxy: TcpProxy;
  let otp: OtpWebhook;
  let server: RunningServer;

  beforeAll(async () => {
    const db = new URL(inject('databaseUrl'));
    proxy = await new TcpProxy(db.hostname, Number(db.port || 5432)).start();
    db.host = `127.0.0.1:${proxy.port}`;
    otp = await new OtpWebhook().start();
    server = await startTestServer({
      DATABASE_URL: db.toString(),
      OTP_WEBHOOK_URL: otp.url,
      READY_CHECK_TIMEOUT_MS: '500',
    });
  }, 60_000);
  afterAll(async () => {
    await server?.close().catch(() => {});
    await proxy?.stop();
    await otp?.stop();
  });

  it('sends answer 503 (not 500) and /ready 503 during a 5 s cut; both recover by themselves', async () => {
    const api = client(server.url);
    const alice = await createUser(api, otp);
    const bob = await createUser(api, otp);
    const d = await SignalDevice.create({ userId: bob.userId, deviceId: 1 });
    expect(
      (
        await api.post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
          token: bob.accessToken,
        })
      ).status,
    ).toBe(200);
    const send = () =>
      api.post(
        '/messages/send',
        {
          recipientId: bob.userId,
          messages: [{ deviceId: 1, registrationId: d.registrationId, type: 'message', content: blob('x') }],
        },
        { token: alice.accessToken },
      );
    expect((await send()).status).toBe(200);
    proxy.cut();
    const statuses: number[] = [];
    const readies: number[] = [];
    const cutEnds = Date.now() + 5_000;
    while (Date.now() < cutEnds) {
      const [s, r] = await Promise.all([send(), fetch(`${server.url}/ready`)]);
      statuses.push(s.status);
      readies.push(r.status);
      await sleep(200);
    }
    proxy.restore();
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 503)).toBe(true);
    expect(readies).toContain(503);
    let ok = 0;
    for (let i = 0; i < 100 && ok !== 200; i++) {
      ok = (await send()).status;
      if (ok !== 200) await sleep(200);
    }
    expect(ok).toBe(200);
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
  }, 90_000);
});
