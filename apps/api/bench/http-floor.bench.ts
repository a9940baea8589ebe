// The cheapest request the API answers (GET /health by default, BENCH_PATH to change), at the claims
// bench's concurrency and with its client: the per-request floor of the HTTP stack (Fastify, helmet,
// access log, metrics) on this machine, to read the claims figure against.
// Run: pnpm --filter @snaptalker/api bench:http-floor  (BENCH_DATABASE_URL / BENCH_REDIS_URL as for the others)
import { cpuBreakdown, LeanHttpClient, run, spawnBenchServer } from './lib.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const PATH = process.env.BENCH_PATH ?? '/health';

const server = await spawnBenchServer();
const connections = Array.from({ length: CLIENTS }, () => new LeanHttpClient(server.url));
const idle = connections.map((_, i) => i);
async function once(): Promise<void> {
  const c = idle.pop();
  if (c === undefined) throw new Error('more requests in flight than connections');
  try {
    const r = await (connections[c] as LeanHttpClient).get(PATH, {});
    if (r.status >= 500) throw new Error(`GET ${PATH}: ${r.status}`);
  } finally {
    idle.push(c);
  }
}
await run(REQUESTS / 2, CLIENTS, once); // warm-up, unmeasured
const cpu = cpuBreakdown(REQUESTS, () => server.cpuSeconds());
const r = await run(REQUESTS, CLIENTS, once);
console.log(
  `GET ${PATH} on ${server.backends}, ${CLIENTS} connections: ${r.opsPerS.toFixed(0)}/s (p50 ${r.p50} ms, p99 ${r.p99} ms)`,
);
console.log(cpu());
for (const c of connections) c.close();
await server.close();
process.exit(0);
