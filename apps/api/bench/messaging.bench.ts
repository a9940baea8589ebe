// Sustained messages/s and send→receive latency with N sender/recipient pairs on one node.
// Senders use the WebSocket `send` frame; recipients receive on their streams and ack.
// Run: pnpm --filter @snaptalker/api bench:messaging  (BENCH_DATABASE_URL / BENCH_REDIS_URL for Postgres + Redis)
import { OtpWebhook } from '../test/helpers/otp-webhook.js';
import { client, createUser } from '../test/helpers/api.js';
import { SignalDevice } from '../test/helpers/signal-client.js';
import { TestSocket } from '../test/helpers/ws-client.js';
import { spawnBenchServer, summary } from './lib.js';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PER_SENDER_IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 2);
const MAX_MESSAGES = Number(process.env.BENCH_MAX_MESSAGES ?? 200_000);

const otp = await new OtpWebhook().start();
const server = await spawnBenchServer({ OTP_WEBHOOK_URL: otp.url, ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' });
const api = client(server.url);

async function account() {
  const u = await createUser(api, otp);
  const d = await SignalDevice.create({ userId: u.userId, deviceId: 1 });
  await api.post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), { token: u.accessToken });
  return { u, registrationId: d.registrationId };
}

const pairs: Array<{ from: Awaited<ReturnType<typeof account>>; to: Awaited<ReturnType<typeof account>> }> = [];
for (let i = 0; i < PAIRS; i++) pairs.push({ from: await account(), to: await account() });
console.log(`${PAIRS} pairs ready on ${server.backends} (server in its own process)`);

const latencies: number[] = [];
let t0 = Date.now();
let received = 0;
let sent = 0;
const deadline = Date.now() + SECONDS * 1000;
const content = Buffer.alloc(512, 7).toString('base64');

const recipients = await Promise.all(pairs.map((p) => TestSocket.connect(server.url, p.to.u.accessToken)));
await Promise.all(recipients.map((r) => r.next((f) => f.type === 'queue.empty')));
for (const r of recipients) {
  r.ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (f.type !== 'message') return;
    received++;
    latencies.push(Date.now() - t0 - Number(f.envelope.messageNumber));
    r.send({ type: 'ack', ids: [f.envelope.id] });
  });
}
const senders = await Promise.all(pairs.map((p) => TestSocket.connect(server.url, p.from.u.accessToken)));
await Promise.all(senders.map((s) => s.next((f) => f.type === 'queue.empty')));

t0 = Date.now();
await Promise.all(
  senders.map(async (s, i) => {
    const p = pairs[i]!;
    let n = 0;
    const inFlight = new Map<string, () => void>();
    s.ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.type === 'send.result' || f.type === 'error') inFlight.get(f.requestId)?.();
    });
    const one = async () => {
      while (Date.now() < deadline && sent < MAX_MESSAGES) {
        const requestId = `${i}-${n++}`;
        const done = new Promise<void>((r) => inFlight.set(requestId, r));
        sent++;
        // messageNumber carries the send time (ms, fits int32 as an offset) for the latency figure.
        s.send({
          type: 'send',
          requestId,
          recipientId: p.to.u.userId,
          messages: [
            {
              deviceId: 1,
              registrationId: p.to.registrationId,
              type: 'message',
              content,
              messageNumber: Date.now() - t0,
            },
          ],
        });
        await done;
        inFlight.delete(requestId);
      }
    };
    await Promise.all(Array.from({ length: PER_SENDER_IN_FLIGHT }, one));
  }),
);
const waitEnd = Date.now() + 10_000;
while (received < sent && Date.now() < waitEnd) await new Promise((r) => setTimeout(r, 50));
const secs = (Date.now() - t0) / 1000;
const s = summary(latencies);
console.log(`sent ${sent}, received ${received} in ${secs.toFixed(1)} s → ${(received / secs).toFixed(0)} msgs/s`);
console.log(`send→receive latency: p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms`);
for (const x of [...senders, ...recipients]) x.close();
await server.close();
await otp.stop();
process.exit(0);
