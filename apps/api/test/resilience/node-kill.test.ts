import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { testEnv } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const blob = (s: string) => Buffer.from(s).toString('base64');

describe('kill -9 of one of two API nodes under load', () => {
  let otp: OtpWebhook;
  const procs: ServerProcess[] = [];
  beforeAll(async () => {
    otp = await new OtpWebhook().start();
  });
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await otp.stop();
  });

  it('clients move to the surviving node; every send that got a 200 is delivered, once after dedupe', async () => {
    const [a, b] = (await Promise.all(
      [0, 1].map(async () => {
        const p = await spawnServer(await testEnv({ OTP_WEBHOOK_URL: otp.url, LOG_LEVEL: 'info' }));
        procs.push(p);
        return p;
      }),
    )) as [ServerProcess, ServerProcess];
    const urls = [a.url, b.url];
    let alive = [a.url, b.url];
    const alice = await createUser(client(b.url), otp);
    const bob = await createUser(client(b.url), otp);
    const d = await SignalDevice.create({ userId: bob.userId, deviceId: 1 });
    await client(b.url).post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
      token: bob.accessToken,
    });

    // Bob starts on node A and, when it goes, reconnects to whichever node answers.
    const received = new Map<string, number>();
    let stopped = false;
    let reconnects = 0;
    const receiver = (async () => {
      let i = 0;
      while (!stopped) {
        try {
          const s = await TestSocket.connect(urls[i++ % 2] as string, bob.accessToken);
          s.ws.on('message', (raw) => {
            const f = JSON.parse(raw.toString());
            if (f.type !== 'message') return;
            received.set(f.envelope.id, (received.get(f.envelope.id) ?? 0) + 1);
            s.send({ type: 'ack', ids: [f.envelope.id] });
          });
          while (!stopped && s.ws.readyState === s.ws.OPEN) await Promise.race([s.closed, sleep(100)]);
          s.ws.terminate();
        } catch {
          // that node is gone: the next attempt goes to the other
        }
        if (!stopped) {
          reconnects++;
          await sleep(100);
        }
      }
    })();

    // Senders spread over both nodes; a send whose node vanished is retried on the other with the
    // same clientMessageId (what a real client does), so its 200 comes from the survivor.
    const accepted = new Set<string>();
    const unexpected: number[] = [];
    const senders = Array.from({ length: 4 }, async (_, k) => {
      for (let i = 0; !stopped && i < 5_000; i++) {
        const cmid = randomUUID();
        for (let attempt = 0; attempt < 20 && !stopped; attempt++) {
          const url = alive[(k + attempt) % alive.length] as string;
          const r = await client(url)
            .post(
              '/messages/send',
              {
                recipientId: bob.userId,
                clientMessageId: cmid,
                messages: [
                  { deviceId: 1, registrationId: d.registrationId, type: 'message', content: blob(`${k}:${i}`) },
                ],
              },
              { token: alice.accessToken },
            )
            .catch(() => ({ status: 0, body: null }));
          if (r.status === 200) {
            accepted.add(r.body.messages[0].messageId);
            break;
          }
          if (r.status !== 0 && r.status !== 503) unexpected.push(r.status);
          await sleep(50);
        }
        await sleep(5);
      }
    });

    await sleep(2_000);
    const beforeKill = accepted.size;
    a.kill('SIGKILL');
    await a.exited;
    alive = [b.url];
    await sleep(2_000);
    stopped = true;
    await Promise.all(senders);
    await receiver;

    // Drain what is left on the survivor.
    const last = await TestSocket.connect(b.url, bob.accessToken);
    last.ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString());
      if (f.type === 'message') received.set(f.envelope.id, (received.get(f.envelope.id) ?? 0) + 1);
    });
    for (let i = 0; i < 200 && [...accepted].some((id) => !received.has(id)); i++) await sleep(100);
    last.close();

    expect(beforeKill).toBeGreaterThan(0);
    expect(accepted.size).toBeGreaterThan(beforeKill);
    expect(unexpected).toEqual([]);
    expect([...accepted].filter((id) => !received.has(id))).toEqual([]);
    console.log(
      `kill -9 of one node: ${accepted.size} sends accepted (${beforeKill} before the kill), ${reconnects} receiver reconnects, 0 lost`,
    );
  }, 120_000);
});
