// Soak: a few hundred thousand messages through one API process, in rounds; after each round prints
// the server's resident memory and V8 heap, so growth that does not level off (a leak) shows.
// Run: pnpm --filter @snaptalker/api bench:soak
//   BENCH_DATABASE_URL / BENCH_REDIS_URL (else the embedded default), BENCH_PAIRS (20),
//   BENCH_ROUND (15000 messages), BENCH_ROUNDS (20), BENCH_IN_FLIGHT (10 per pair)
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { client, createUser } from '../test/helpers/api.js';
import { OtpWebhook } from '../test/helpers/otp-webhook.js';
import { SignalDevice } from '../test/helpers/signal-client.js';
import { spawnBenchServer } from './lib.js';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 20);
const ROUND = Number(process.env.BENCH_ROUND ?? 15_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 10);

const otp = await new OtpWebhook().start();
const server = await spawnBenchServer({
  OTP_WEBHOOK_URL: otp.url,
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_ITERATIONS: '1',
  RATE_LIMIT_WS_FRAMES: '100000000/1',
  WS_MAX_INFLIGHT_POINTS: '1000',
});
const api = client(server.url);

async function account() {
  const u = await createUser(api, otp);
  const d = await SignalDevice.create({ userId: u.userId, deviceId: 1 });
  await api.post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), { token: u.accessToken });
  return { u, registrationId: d.registrationId };
}

function open(token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/v1/messages/stream`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', function first(d) {
      if (JSON.parse(d.toString()).type === 'queue.empty') {
        ws.off('message', first);
        resolve(ws);
      }
    });
  });
}

async function serverMemory() {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? Number.NaN);
  return { rssMb: rssKb / 1024, heapMb: heap / 1048576 };
}

const pairs = [];
for (let i = 0; i < PAIRS; i++) pairs.push({ from: await account(), to: await account() });
let received = 0;
const recipients = await Promise.all(pairs.map((p) => open(p.to.u.accessToken)));
for (const ws of recipients) {
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (f.type !== 'message') return;
    received++;
    ws.send(JSON.stringify({ type: 'ack', ids: [f.envelope.id] }));
  });
}
const senders = await Promise.all(pairs.map((p) => open(p.from.u.accessToken)));
const content = Buffer.alloc(200, 7).toString('base64');
const start = await serverMemory();
console.log(
  `${PAIRS} pairs on ${server.backends}; start: RSS ${start.rssMb.toFixed(0)} MB, heap ${start.heapMb.toFixed(0)} MB`,
);

let sent = 0;
for (let round = 1; round <= ROUNDS; round++) {
  const perPair = Math.ceil(ROUND / PAIRS);
  await Promise.all(
    pairs.map(async (p, i) => {
      const ws = senders[i] as WebSocket;
      const waiting = new Map<string, () => void>();
      const onMessage = (d: WebSocket.RawData) => {
        const f = JSON.parse(d.toString());
        if (f.type === 'send.result' || f.type === 'error') waiting.get(f.requestId)?.();
      };
      ws.on('message', onMessage);
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < perPair) {
            const rid = `${round}-${next++}`;
            await new Promise<void>((resolve) => {
              waiting.set(rid, () => {
                waiting.delete(rid);
                resolve();
              });
              ws.send(
                JSON.stringify({
                  type: 'send',
                  requestId: rid,
                  recipientId: p.to.u.userId,
                  messages: [{ deviceId: 1, registrationId: p.to.registrationId, type: 'message', content }],
                }),
              );
            });
            sent++;
          }
        }),
      );
      ws.off('message', onMessage);
    }),
  );
  const waitEnd = Date.now() + 15_000;
  while (received < sent && Date.now() < waitEnd) await new Promise((r) => setTimeout(r, 50));
  const m = await serverMemory();
  console.log(
    `round ${round}: ${sent} sent, ${received} received; RSS ${m.rssMb.toFixed(0)} MB (+${(m.rssMb - start.rssMb).toFixed(0)}), ` +
      `heap ${m.heapMb.toFixed(0)} MB (+${(m.heapMb - start.heapMb).toFixed(0)})`,
  );
}
for (const ws of [...senders, ...recipients]) ws.terminate();
await server.close();
await otp.stop();
process.exit(0);
