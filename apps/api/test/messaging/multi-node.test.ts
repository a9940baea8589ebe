import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createUser, type TestUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { testEnv } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

const blob = (s: string) => Buffer.from(s).toString('base64');

describe('several API processes on one PostgreSQL + Redis', () => {
  let otp: OtpWebhook;
  const procs: ServerProcess[] = [];
  beforeAll(async () => {
    otp = await new OtpWebhook().start();
  });
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await otp.stop();
  });

  async function start(env: Record<string, string> = {}): Promise<ServerProcess> {
    const p = await spawnServer(await testEnv({ OTP_WEBHOOK_URL: otp.url, LOG_LEVEL: 'info', ...env }));
    procs.push(p);
    return p;
  }

  async function withKeys(url: string): Promise<{ user: TestUser; registrationId: number }> {
    const api = client(url);
    const user = await createUser(api, otp);
    const d = await SignalDevice.create({ userId: user.userId, deviceId: 1 });
    await api.post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), { token: user.accessToken });
    return { user, registrationId: d.registrationId };
  }

  it('a message sent to node A reaches a recipient connected to node B, live; status flows back', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    const alice = await withKeys(a.url);
    const bob = await withKeys(b.url);
    const bobWs = await TestSocket.connect(b.url, bob.user.accessToken);
    const aliceWs = await TestSocket.connect(b.url, alice.user.accessToken);
    await bobWs.next((f) => f.type === 'queue.empty');
    await aliceWs.next((f) => f.type === 'queue.empty');
    const r = await client(a.url).post(
      '/messages/send',
      {
        recipientId: bob.user.userId,
        messages: [{ deviceId: 1, registrationId: bob.registrationId, type: 'message', content: blob('across nodes') }],
      },
      { token: alice.user.accessToken },
    );
    expect(r.status).toBe(200);
    const got = await bobWs.next((f) => f.type === 'message', 5_000);
    expect(got.envelope.content).toBe(blob('across nodes'));
    bobWs.send({ type: 'ack', ids: [got.envelope.id] });
    expect(await aliceWs.next((f) => f.type === 'message.status', 5_000)).toMatchObject({
      id: got.envelope.id,
      status: 'delivered',
    });
    // One socket per device holds across nodes too.
    const bobOnA = await TestSocket.connect(a.url, bob.user.accessToken);
    expect((await bobWs.closed).code).toBe(4409);
    bobOnA.close();
    aliceWs.close();
    a.kill();
    b.kill();
  });

  it('kill -9 during 10 concurrent senders: after restart every send that got a 200 is delivered exactly once', async () => {
    const a = await start();
    const bob = await withKeys(a.url);
    const senders = await Promise.all(Array.from({ length: 10 }, () => withKeys(a.url)));
    const acknowledged = new Set<string>();
    let stop = false;
    const loops = senders.map(async (s) => {
      const api = client(a.url);
      for (let i = 0; !stop && i < 10_000; i++) {
        const clientMessageId = randomUUID();
        try {
          const r = await api.post(
            '/messages/send',
            {
              recipientId: bob.user.userId,
              clientMessageId,
              messages: [
                { deviceId: 1, registrationId: bob.registrationId, type: 'message', content: blob(clientMessageId) },
              ],
            },
            { token: s.user.accessToken },
          );
          if (r.status === 200) acknowledged.add(clientMessageId);
        } catch {
          return; // the server died under us: this send was never acknowledged
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1_500));
    a.kill('SIGKILL');
    stop = true;
    await Promise.all(loops);
    expect(acknowledged.size).toBeGreaterThan(20);

    const restarted = await start();
    const ws = await TestSocket.connect(restarted.url, bob.user.accessToken);
    const frames = await ws.collect((f) => f.type === 'queue.empty', 60_000);
    const received = frames.filter((f) => f.type === 'message').map((f) => f.envelope.clientMessageId as string);
    expect(new Set(received).size).toBe(received.length);
    const missing = [...acknowledged].filter((id) => !received.includes(id));
    expect(missing).toEqual([]);
    ws.close();
    restarted.kill();
  }, 120_000);

  it('the bundle limit holds across nodes although each spends it from local slices', async () => {
    // 40 claims per minute per requester: each node takes slices of 2 from the shared counter.
    const [a, b] = await Promise.all([
      start({ RATE_LIMIT_BUNDLE_REQUESTER: '40/60' }),
      start({ RATE_LIMIT_BUNDLE_REQUESTER: '40/60' }),
    ]);
    const target = await withKeys(a.url);
    const requester = await createUser(client(a.url), otp);
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const node = i % 2 === 0 ? a : b;
      const r = await client(node.url).get(`/keys/bundle/${target.user.userId}`, { token: requester.accessToken });
      statuses.push(r.status);
    }
    const ok = statuses.filter((s) => s === 200).length;
    // Never more than the limit in all; at most one slice per node refused early.
    expect(ok).toBeLessThanOrEqual(40);
    expect(ok).toBeGreaterThanOrEqual(36);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // Once refused, both nodes keep refusing within the window.
    expect(statuses.slice(-4)).toEqual([429, 429, 429, 429]);
  });
});
