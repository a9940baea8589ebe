import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { percentile } from '../../bench/lib.js';
import { client, createUser, type TestUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { testEnv } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';

// The test command runs 1,000 sockets; the long variant (10,000, several minutes to set up):
//   STORM_SOCKETS=10000 npx vitest run test/resilience/reconnect-storm.test.ts
const SOCKETS = Number(process.env.STORM_SOCKETS ?? 1_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `n` at once. */
async function pool<T, R>(items: T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

/** The API's liveness probe timeout in the Kubernetes manifest, in ms. */
function livenessTimeoutMs(): number {
  const manifest = readFileSync(new URL('../../../../k8s/api.yaml', import.meta.url), 'utf8');
  const s = /livenessProbe:[\s\S]*?timeoutSeconds:\s*(\d+)/.exec(manifest)?.[1];
  if (!s) throw new Error('k8s/api.yaml: no livenessProbe timeoutSeconds');
  return Number(s) * 1000;
}

/** Times `GET /health` every 20 ms on a worker thread until `stop()`, which returns the latencies (ms). */
function healthProber(baseUrl: string): { stop: () => Promise<number[]> } {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    let storming = true;
    const health = [];
    parentPort.once('message', () => { storming = false; });
    (async () => {
      while (storming) {
        const t = performance.now();
        const r = await fetch(workerData + '/health');
        await r.arrayBuffer();
        health.push(performance.now() - t);
        await new Promise((res) => setTimeout(res, 20));
      }
      parentPort.postMessage(health);
    })();
    `,
    { eval: true, workerData: baseUrl },
  );
  return {
    stop: async () => {
      const done = new Promise<number[]>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      worker.postMessage('stop');
      const health = await done;
      await worker.terminate();
      return health;
    },
  };
}

describe('reconnect storm', () => {
  let otp: OtpWebhook;
  let server: ServerProcess;
  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await spawnServer(
      await testEnv({
        OTP_WEBHOOK_URL: otp.url,
        LOG_LEVEL: 'info',
        WS_MAX_CONNECTIONS_PER_IP: String(SOCKETS * 2),
        DATABASE_POOL_MAX: '20',
      }),
      60_000,
    );
  }, 90_000);
  afterAll(async () => {
    server?.kill('SIGKILL');
    await otp?.stop();
  });

  it(`${SOCKETS} sockets drop at once and all resubscribe: none loses its queued envelope; /health stays fast`, async () => {
    const api = client(server.url);
    const users = await pool(Array.from({ length: SOCKETS }), 16, async () => {
      // Random test phone numbers collide among thousands of users: draw again on a 409.
      let user: TestUser | undefined;
      for (let attempt = 0; !user; attempt++) {
        user = await createUser(api, otp).catch((e: unknown) => {
          if (attempt < 5 && String(e).includes('409')) return undefined;
          throw e;
        });
      }
      const d = await SignalDevice.create({ userId: user.userId, deviceId: 1 });
      const r = await api.post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
        token: user.accessToken,
      });
      expect(r.status).toBe(200);
      return { user, registrationId: d.registrationId };
    });
    const sender = users[0]?.user as TestUser;

    const connect = (token: string, onEnvelope: (id: string) => void) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/v1/messages/stream`, {
          headers: { authorization: `Bearer ${token}` },
        });
        ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade ${res.statusCode}`)));
        ws.once('error', reject);
        ws.on('message', (raw) => {
          const f = JSON.parse(raw.toString());
          if (f.type === 'message') {
            onEnvelope(f.envelope.id);
            ws.send(JSON.stringify({ type: 'ack', ids: [f.envelope.id] }));
          }
          if (f.type === 'queue.empty') resolve(ws);
        });
      });
    const withRetry = async (token: string, onEnvelope: (id: string) => void) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await connect(token, onEnvelope);
        } catch (e) {
          if (attempt >= 20) throw e;
          await sleep(100 + Math.random() * 400);
        }
      }
    };

    // Everyone online, then every socket drops at once.
    const first = await pool(users, 100, (u) => withRetry(u.user.accessToken, () => {}));
    for (const ws of first) ws.terminate();
    await sleep(500);

    // While they are away, one envelope is queued for each of them.
    const expected = new Map<string, string>();
    await pool(users.slice(1), 32, async (u) => {
      const r = await api.post(
        '/messages/send',
        {
          recipientId: u.user.userId,
          messages: [{ deviceId: 1, registrationId: u.registrationId, type: 'message', content: 'c3Rvcm0=' }],
        },
        { token: sender.accessToken },
      );
      expect(r.status).toBe(200);
      expected.set(u.user.userId, r.body.messages[0].messageId);
    });

    // The storm: all reconnect at once; /health is measured throughout, from a thread of its own so
    // the time this thread spends on 1,000 upgrades and frames is not counted as the server's.
    const prober = healthProber(server.url);
    const got = new Map<string, string[]>();
    const t0 = performance.now();
    const second = await Promise.all(
      users.map((u) =>
        withRetry(u.user.accessToken, (id) => got.set(u.user.userId, [...(got.get(u.user.userId) ?? []), id])),
      ),
    );
    const stormMs = performance.now() - t0;
    const health = await prober.stop();

    const lost = [...expected].filter(([userId, id]) => !(got.get(userId) ?? []).includes(id));
    expect(lost).toEqual([]);
    const sorted = health.sort((a, b) => a - b);
    console.log(
      `reconnect storm: ${SOCKETS} sockets resubscribed in ${(stormMs / 1000).toFixed(1)} s, ` +
        `${expected.size} queued envelopes, 0 lost; /health during the storm p50 ${percentile(sorted, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms (${sorted.length} probes)`,
    );
    expect(health.length).toBeGreaterThan(0);
    // Most probes are answered at once, and none as slowly as the liveness probe of the deployment
    // gives up (k8s/api.yaml): a storm never counts against the node's liveness. (The node is busy
    // for the whole storm on two shared cores, so a probe that lands behind a burst of upgrades can
    // wait a second or two; that is the figure docs/operations.md records.)
    expect(percentile(sorted, 50)).toBeLessThan(250);
    expect(sorted.at(-1)).toBeLessThan(livenessTimeoutMs());
    for (const ws of second) ws.terminate();
  }, 600_000);
});
