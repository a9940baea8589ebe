// Bundle claims/s with N concurrent clients against one target holding many one-time prekeys.
// Run: pnpm --filter @snaptalker/api bench:keys  (BENCH_DATABASE_URL / BENCH_REDIS_URL for Postgres + Redis)
//   BENCH_CLIENTS (50)  BENCH_PREKEYS (5000)  BENCH_CLAIMS  BENCH_WARMUP (5000)  BENCH_NODES (1 API process)
//   BENCH_CLIENT (node | wrk): the measured claims from this process's lean client, or from Debian's
//   `wrk` (C; a tenth of the CPU per request, so more of the shared cores go to the server). With wrk
//   the claims run for BENCH_SECONDS (3) and every claimed key id is still checked to be distinct.
import { client, createUser } from '../test/helpers/api.js';
import { OtpWebhook } from '../test/helpers/otp-webhook.js';
import { SignalDevice } from '../test/helpers/signal-client.js';
import { cpuBreakdown, LeanHttpClient, run, serviceCpuSeconds, spawnBenchServer } from './lib.js';
import { wrkClaims } from './wrk.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const PREKEYS = Number(process.env.BENCH_PREKEYS ?? 5_000);
const CLAIMS = Number(process.env.BENCH_CLAIMS ?? PREKEYS);
// Unmeasured claims against another user first: a server in production is warm, and a 3-second
// measurement of a cold one is mostly V8 compiling the path.
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5_000);
const CLIENT = (process.env.BENCH_CLIENT ?? 'node') as 'node' | 'wrk';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

const otp = await new OtpWebhook().start();
// BENCH_NODES API processes on the one database (the figure is per machine, all of them together);
// the clients' connections are spread over them.
const NODES = Number(process.env.BENCH_NODES ?? 1);
const servers: Array<Awaited<ReturnType<typeof spawnBenchServer>>> = [];
for (let i = 0; i < NODES; i++)
  servers.push(await spawnBenchServer({ OTP_WEBHOOK_URL: otp.url, ARGON2_MEMORY_KIB: '1024', ARGON2_ITERATIONS: '1' }));
const server = servers[0] as Awaited<ReturnType<typeof spawnBenchServer>>;
const apiCpu = () => servers.reduce((sum, s) => sum + s.cpuSeconds(), 0);
const api = client(server.url);
const target = await createUser(api, otp);
const device = await SignalDevice.create({ userId: target.userId, deviceId: 1 });
for (let uploaded = 0; uploaded < PREKEYS; uploaded += 100) {
  const body = await device.generateKeys({
    preKeys: Math.min(100, PREKEYS - uploaded),
    kyberPreKeys: uploaded === 0 ? 100 : 0,
    lastResort: uploaded === 0,
  });
  const r = await api.post('/keys/upload', body, { token: target.accessToken });
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
}
const warmTarget = await createUser(api, otp);
const warmDevice = await SignalDevice.create({ userId: warmTarget.userId, deviceId: 1 });
const warmKeys = await warmDevice.generateKeys({ preKeys: 100, kyberPreKeys: 100, lastResort: true });
if ((await api.post('/keys/upload', warmKeys, { token: warmTarget.accessToken })).status !== 200)
  throw new Error('warm-up key upload failed');
const fetchers = await Promise.all(Array.from({ length: CLIENTS }, () => createUser(api, otp)));
console.log(
  `${PREKEYS} one-time prekeys on ${server.backends} (${NODES} API process(es) of their own); ${CLIENTS} concurrent clients`,
);

// The claims go over keep-alive connections, one per client, through the benches' lean HTTP client
// (node:http cost the load generator more CPU per request than the server spent on the claim).
const connections = Array.from({ length: CLIENTS }, (_, i) => new LeanHttpClient((servers[i % NODES] ?? server).url));
// Each connection carries one client's token and one request at a time: a claim takes an idle one.
const idle = connections.map((_, i) => i);
async function claim(of = target.userId): Promise<{ status: number; body: any }> {
  const client = idle.pop();
  if (client === undefined) throw new Error('more claims in flight than connections');
  try {
    const r = await (connections[client] as LeanHttpClient).get(`/api/v1/keys/bundle/${of}`, {
      authorization: `Bearer ${fetchers[client]?.accessToken}`,
    });
    return { status: r.status, body: JSON.parse(r.body.toString()) };
  } finally {
    idle.push(client);
  }
}

await run(WARMUP, CLIENTS, async () => {
  const res = await claim(warmTarget.userId);
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
});
if (CLIENT === 'wrk') {
  for (const c of connections) c.close();
  const a0 = apiCpu();
  const s0 = serviceCpuSeconds();
  const w = await wrkClaims({
    urls: servers.map((s) => `${s.url}/api/v1/keys/bundle/${target.userId}`),
    tokens: fetchers.map((f) => f.accessToken),
    connections: CLIENTS,
    seconds: SECONDS,
  });
  const s1 = serviceCpuSeconds();
  const us = (sec: number) => `${((sec / Math.max(1, w.requests)) * 1e6).toFixed(0)} µs`;
  console.log(
    `bundle claims (wrk): ${w.perSecond.toFixed(0)}/s over ${w.seconds.toFixed(1)} s (p50 ${w.p50.toFixed(1)} ms, p99 ${w.p99.toFixed(1)} ms); ` +
      `${w.requests} claims, ${w.failed} not 200, ${w.withKey} with a one-time key (${w.distinct} distinct; after ${WARMUP} warm-up claims)`,
  );
  console.log(
    `CPU per op: API ${us(apiCpu() - a0)}, PostgreSQL ${us(s1.postgres - s0.postgres)}, Redis ${us(s1.redis - s0.redis)}, load generator (wrk) ${us(w.cpuSeconds)}`,
  );
  if (w.distinct !== w.withKey) throw new Error(`${w.withKey - w.distinct} one-time prekeys handed out twice`);
  if (w.failed > 0) throw new Error(`${w.failed} claims were not 200`);
  await Promise.all(servers.map((s) => s.close()));
  await otp.stop();
  process.exit(0);
}

let withKey = 0;
const claimed = new Set<number>();
const cpu0 = apiCpu();
const breakdown = cpuBreakdown(CLAIMS, apiCpu);
const r = await run(CLAIMS, CLIENTS, async () => {
  const res = await claim();
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
  const preKey = res.body.devices[0].preKey;
  if (preKey) {
    withKey++;
    if (claimed.has(preKey.keyId)) throw new Error(`one-time prekey ${preKey.keyId} handed out twice`);
    claimed.add(preKey.keyId);
  }
});
const cpuPerClaimUs = ((apiCpu() - cpu0) / CLAIMS) * 1e6;
const cpuLine = breakdown();
for (const c of connections) c.close();
console.log(
  `bundle claims: ${r.opsPerS.toFixed(0)}/s over ${r.secs.toFixed(1)} s (p50 ${r.p50} ms, p99 ${r.p99} ms); ${withKey} with a one-time key (${claimed.size} distinct; after ${WARMUP} warm-up claims); API ${cpuPerClaimUs.toFixed(0)} µs CPU per claim`,
);
console.log(cpuLine);
await Promise.all(servers.map((s) => s.close()));
await otp.stop();
process.exit(0);
