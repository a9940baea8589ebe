// Sustained messages/s and send→receive latency: N sender/recipient pairs, M messages per pair,
// K sends in flight per pair. Senders use the WebSocket `send` frame (or REST), recipients receive
// on their streams and ack each envelope. Prints msgs/s, latency percentiles, lost, duplicated and
// out-of-order counts. The server runs as its own process(es); this process is the load generator.
//
// Run: pnpm --filter @snaptalker/api bench:messaging
//   BENCH_DATABASE_URL / BENCH_REDIS_URL  PostgreSQL + Redis (else the embedded default)
//   BENCH_PAIRS (50)  BENCH_MESSAGES (2000 per pair)  BENCH_IN_FLIGHT (20 per pair)
//   BENCH_PAYLOAD (200 bytes)  BENCH_TRANSPORT (ws|rest)  BENCH_NODES (1 API process; clients spread)
//   BENCH_CROSS (1: senders on another process than their recipients; 0: the same)
//   BENCH_MAX_SECONDS (120: a bound on the whole load loop)
//   BENCH_WARMUP (200 per pair: sent, received and acked first, not measured: the server is warm, as in
//   production; 0 measures a cold start too)
//   BENCH_PEER=ejabberd  then the same shape against Debian's ejabberd (bench/peer-run.ts), and the ratio
import WebSocket from 'ws';
import { frameSender } from '../src/transports/ws/frame-writer.js';
import { OtpWebhook } from '../test/helpers/otp-webhook.js';
import { client, createUser } from '../test/helpers/api.js';
import { SignalDevice } from '../test/helpers/signal-client.js';
import { percentile, serviceCpuSeconds, spawnBenchServer } from './lib.js';
import { runEjabberd } from './peer-run.js';

const PAIRS = Number(process.env.BENCH_PAIRS ?? 50);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 20);
const PAYLOAD = Number(process.env.BENCH_PAYLOAD ?? 200);
const TRANSPORT = (process.env.BENCH_TRANSPORT ?? 'ws') as 'ws' | 'rest';
const NODES = Number(process.env.BENCH_NODES ?? 1);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 120);
// Message numbers below WARMUP are the warm-up's: a cold server's first second is V8 compiling the
// path (its 1,000 first sends waited 350–750 ms), which would be 1–2% of the sample, i.e. the p99.
const WARMUP = Number(process.env.BENCH_WARMUP ?? 200);
const SLOTS = WARMUP + MESSAGES;
// With several processes: 1 = a pair's sender on the next process (every message crosses processes),
// 0 = on its recipient's process (pushes stay local, as when a balancer keeps a conversation together).
const CROSS = Number(process.env.BENCH_CROSS ?? 1);

const otp = await new OtpWebhook().start();
const huge = '100000000/1';
const servers: Array<Awaited<ReturnType<typeof spawnBenchServer>>> = [];
for (let i = 0; i < NODES; i++) {
  servers.push(
    await spawnBenchServer({
      OTP_WEBHOOK_URL: otp.url,
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_ITERATIONS: '1',
      RATE_LIMIT_WS_FRAMES: huge,
      WS_MAX_INFLIGHT_POINTS: String(Math.max(64, IN_FLIGHT * 4)),
    }),
  );
}
const api = client(servers[0]!.url);
const urlOf = (i: number) => servers[i % NODES]!.url;

async function account() {
  const u = await createUser(api, otp);
  const d = await SignalDevice.create({ userId: u.userId, deviceId: 1 });
  await api.post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), { token: u.accessToken });
  return { u, registrationId: d.registrationId };
}

type Account = Awaited<ReturnType<typeof account>>;
const pairs: Array<{ from: Account; to: Account }> = [];
for (let i = 0; i < PAIRS; i++) pairs.push({ from: await account(), to: await account() });

function open(url: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/messages/stream`, {
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

/**
 * The load generator writes like the server does (the server's own frame writer): frames of one
 * event-loop turn leave in one write. It shares the machine's two cores with the server, so a
 * system call per frame here would lower the figure being measured.
 */
const corked = (ws: WebSocket) => frameSender(ws).sendRaw;

// sentAt[pair][n]: when message n of a pair was sent (ms since t0); received counts per message.
const sentAt = pairs.map(() => new Float64Array(SLOTS));
const seen = pairs.map(() => new Uint8Array(SLOTS));
// Order as the contract defines it: if n's reply arrived before m was sent, n must arrive before m.
// accepted[pair] lists messages in reply order; mustPrecede[pair][m] = accepted count when m was sent.
const accepted = pairs.map(() => [] as number[]);
const mustPrecede = pairs.map(() => new Int32Array(SLOTS));
const prefix = pairs.map(() => 0);
const latencies: number[] = [];
// BENCH_TIMELINE=1: latency percentiles per 500 ms of send time and per pair (where a tail comes from).
const TIMELINE = process.env.BENCH_TIMELINE === '1';
const timeline: Array<[number, number, number]> = [];
let received = 0;
let acceptedTotal = 0;
let warmReceived = 0;
let warmAccepted = 0;
let duplicated = 0;
let outOfOrder = 0;
let failed = 0;
let t0 = 0;

// Recipients on node i % NODES, their senders on the next node: with several nodes, every
// message crosses nodes.
const recipients = await Promise.all(pairs.map((p, i) => open(urlOf(i), p.to.u.accessToken)));
recipients.forEach((ws, i) => {
  const send = corked(ws);
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (f.type !== 'message') return;
    const n = f.envelope.messageNumber as number;
    if (n < WARMUP) {
      if (!seen[i]![n]) warmReceived++;
      seen[i]![n] = 1;
      send(JSON.stringify({ type: 'ack', ids: [f.envelope.id] }));
      return;
    }
    if (seen[i]![n]) duplicated++;
    else {
      seen[i]![n] = 1;
      received++;
      const lat = performance.now() - t0 - sentAt[i]![n]!;
      latencies.push(lat);
      if (TIMELINE) timeline.push([sentAt[i]![n]!, lat, i]);
    }
    const acc = accepted[i]!;
    while (prefix[i]! < acc.length && seen[i]![acc[prefix[i]!]!]) prefix[i]!++;
    if (prefix[i]! < mustPrecede[i]![n]!) outOfOrder++;
    send(JSON.stringify({ type: 'ack', ids: [f.envelope.id] }));
  });
});
const senders =
  TRANSPORT === 'ws' ? await Promise.all(pairs.map((p, i) => open(urlOf(i + CROSS), p.from.u.accessToken))) : [];
console.log(
  `${PAIRS} pairs × ${MESSAGES} messages, ${IN_FLIGHT} in flight per pair, ${PAYLOAD}-byte payloads, ` +
    `${TRANSPORT} sends, ${NODES} API process(es) on ${servers[0]!.backends}` +
    (WARMUP ? `; after ${WARMUP} warm-up messages per pair` : '; cold start'),
);

const content = Buffer.alloc(PAYLOAD, 7).toString('base64');
const body = (p: (typeof pairs)[number], n: number) => ({
  recipientId: p.to.u.userId,
  messages: [{ deviceId: 1, registrationId: p.to.registrationId, type: 'message', content, messageNumber: n }],
});
const deadline = Date.now() + MAX_SECONDS * 1000;

const senderOf = pairs.map((p, i) => {
  let sendOne: (n: number) => Promise<void>;
  if (TRANSPORT === 'ws') {
    const ws = senders[i]!;
    const waiting = new Map<string, () => void>();
    const send = corked(ws);
    ws.on('message', (d) => {
      // Only replies matter to a sender here: its status events (delivered) are skipped unparsed.
      const text = d.toString();
      if (text.startsWith('{"type":"message.status"') || text.startsWith('{"type":"status.batch"')) return;
      const f = JSON.parse(text);
      if (f.type === 'error') failed++;
      if (f.type === 'send.result') {
        const n = Number(f.requestId);
        if (n < WARMUP) warmAccepted++;
        else {
          accepted[i]!.push(n);
          acceptedTotal++;
        }
      }
      if (f.type === 'send.result' || f.type === 'error') waiting.get(f.requestId)?.();
    });
    sendOne = (n) =>
      new Promise<void>((resolve) => {
        const requestId = String(n);
        waiting.set(requestId, () => {
          waiting.delete(requestId);
          resolve();
        });
        send(JSON.stringify({ type: 'send', requestId, ...body(p, n) }));
      });
  } else {
    const url = `${urlOf(i + CROSS)}/api/v1/messages/send`;
    const headers = { authorization: `Bearer ${p.from.u.accessToken}`, 'content-type': 'application/json' };
    sendOne = async (n) => {
      const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body(p, n)) });
      await r.arrayBuffer();
      if (r.status !== 200) failed++;
      else if (n < WARMUP) warmAccepted++;
      else {
        accepted[i]!.push(n);
        acceptedTotal++;
      }
    };
  }
  return sendOne;
});

/** Every pair sends messages [from, to) with IN_FLIGHT sends outstanding. */
async function load(from: number, to: number): Promise<void> {
  await Promise.all(
    pairs.map(async (_p, i) => {
      let next = from;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < to && Date.now() < deadline) {
            const n = next++;
            sentAt[i]![n] = performance.now() - t0;
            mustPrecede[i]![n] = accepted[i]!.length;
            await senderOf[i]!(n);
          }
        }),
      );
    }),
  );
}

if (WARMUP > 0) {
  t0 = performance.now();
  await load(0, WARMUP);
  const warmEnd = Date.now() + 15_000;
  while (warmReceived < warmAccepted && Date.now() < warmEnd) await new Promise((r) => setTimeout(r, 20));
  if (warmReceived < PAIRS * WARMUP) throw new Error(`warm-up: ${warmReceived}/${PAIRS * WARMUP} received`);
  // The acks of the last warm-up envelopes settle before the measured run starts.
  await new Promise((r) => setTimeout(r, 200));
}

t0 = performance.now();
const cpu0 = servers.map((s) => s.cpuSeconds());
const sys0 = servers.map((s) => s.syscalls());
const gen0 = process.cpuUsage();
const svc0 = serviceCpuSeconds();
await load(WARMUP, SLOTS);
const total = PAIRS * MESSAGES;
const waitEnd = Date.now() + 15_000;
while (received < acceptedTotal && Date.now() < waitEnd) await new Promise((r) => setTimeout(r, 20));
const secs = (performance.now() - t0) / 1000;
const sys1 = servers.map((s) => s.syscalls());
const apiReads = sys1.reduce((sum, s, i) => sum + s.reads - sys0[i]!.reads, 0);
const apiWrites = sys1.reduce((sum, s, i) => sum + s.writes - sys0[i]!.writes, 0);
const apiCpu = servers.reduce((sum, s, i) => sum + s.cpuSeconds() - (cpu0[i] as number), 0);
const gen = process.cpuUsage(gen0);
const svc1 = serviceCpuSeconds();
const sorted = latencies.sort((a, b) => a - b);
const pct = (q: number) => percentile(sorted, q).toFixed(1);
console.log(
  `received ${received}/${total} in ${secs.toFixed(2)} s → ${(received / secs).toFixed(0)} msgs/s; ` +
    `send→receive p50 ${pct(50)} ms, p95 ${pct(95)} ms, p99 ${pct(99)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms`,
);
console.log(
  `accepted ${acceptedTotal}, lost ${acceptedTotal - received}, failed sends ${failed}, not sent (time bound) ${total - acceptedTotal - failed}, ` +
    `duplicated ${duplicated}, out of order ${outOfOrder}`,
);
console.log(
  `CPU: API ${apiCpu.toFixed(1)} s (${((apiCpu / received) * 1e6).toFixed(0)} µs per message, ` +
    `${((100 * apiCpu) / secs).toFixed(0)}% of a core), load generator ${((gen.user + gen.system) / 1e6).toFixed(1)} s`,
);
const perMsg = (sec: number) => `${((sec / Math.max(1, received)) * 1e6).toFixed(0)} µs`;
console.log(
  `CPU per message: API ${perMsg(apiCpu)}, PostgreSQL ${perMsg(svc1.postgres - svc0.postgres)}, ` +
    `Redis ${perMsg(svc1.redis - svc0.redis)}, load generator ${perMsg((gen.user + gen.system) / 1e6)}`,
);
// Each write or read is a system call, costly on this machine: frames per write shows the batching.
console.log(
  `API system calls per message: ${(apiReads / Math.max(1, received)).toFixed(2)} reads, ${(apiWrites / Math.max(1, received)).toFixed(2)} writes`,
);
if (TIMELINE) {
  const windows = new Map<number, number[]>();
  const byPair = new Map<number, number[]>();
  for (const [at, lat, pair] of timeline) {
    const w = Math.floor(at / 500);
    windows.set(w, [...(windows.get(w) ?? []), lat]);
    byPair.set(pair, [...(byPair.get(pair) ?? []), lat]);
  }
  for (const [w, l] of [...windows].sort((a, b) => a[0] - b[0])) {
    const s = l.sort((a, b) => a - b);
    console.log(
      `  ${(w * 0.5).toFixed(1)} s: ${s.length} sent, p50 ${percentile(s, 50).toFixed(0)} p99 ${percentile(s, 99).toFixed(0)} max ${(s.at(-1) ?? 0).toFixed(0)} ms`,
    );
  }
  const p50s = [...byPair.values()]
    .map((l) =>
      percentile(
        l.sort((a, b) => a - b),
        50,
      ),
    )
    .sort((a, b) => a - b);
  console.log(
    `  per-pair p50: min ${p50s[0]?.toFixed(0)} median ${percentile(p50s, 50).toFixed(0)} max ${p50s.at(-1)?.toFixed(0)} ms`,
  );
}
for (const ws of [...senders, ...recipients]) ws.terminate();
await Promise.all(servers.map((s) => s.close()));
await otp.stop();
if (process.env.BENCH_PEER === 'ejabberd') {
  const ours = received / secs;
  const peer = await runEjabberd({
    pairs: PAIRS,
    messages: MESSAGES,
    inFlight: IN_FLIGHT,
    payload: PAYLOAD,
    maxSeconds: MAX_SECONDS,
  });
  console.log(
    `ejabberd (XMPP 1:1, no persistence), same shape: ${peer.msgsPerS.toFixed(0)} msgs/s; ` +
      `send→receive p50 ${peer.p50.toFixed(1)} ms, p95 ${peer.p95.toFixed(1)} ms, p99 ${peer.p99.toFixed(1)} ms; ` +
      `lost ${peer.lost}, duplicated ${peer.duplicated}, out of order ${peer.outOfOrder}; ` +
      `CPU per message: ejabberd ${peer.cpuPerMessageUs.toFixed(0)} µs, load generator ${peer.loadGeneratorUsPerMessage.toFixed(0)} µs`,
  );
  console.log(
    `SnapTalker / ejabberd: ${(ours / peer.msgsPerS).toFixed(2)}× the throughput, ` +
      `p99 ${(percentile(sorted, 99) / peer.p99).toFixed(1)}× ejabberd's`,
  );
}
process.exit(0);
