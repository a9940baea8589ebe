/**
 * The REST fuzzer of test/hardening/fuzz.test.ts with a random (or given) seed and a larger count:
 *   pnpm --filter @snaptalker/api fuzz [--count 20000] [--seed 123] [--concurrency 8]
 * Runs its own server (embedded by default; FUZZ_DATABASE_URL / FUZZ_REDIS_URL for PostgreSQL +
 * Redis), prints the seed, the status histogram and every contract break; exits 1 on any finding
 * or any error-level log line.
 */
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { benchServer } from '../bench/lib.js';
import { createLogger } from '../src/observability/logger.js';
import { fuzz } from '../test/hardening/fuzz-lib.js';
import { client, createUser } from '../test/helpers/api.js';
import { OtpWebhook } from '../test/helpers/otp-webhook.js';
import { SignalDevice } from '../test/helpers/signal-client.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
  },
});
const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const count = Number(values.count);

const errors: string[] = [];
const destination = {
  write(chunk: string) {
    for (const line of chunk.split('\n')) {
      if (!line.trim()) continue;
      const l = JSON.parse(line) as { level: number; msg?: string; err?: unknown };
      if (l.level >= 50) errors.push(`${l.msg}: ${JSON.stringify(l.err).slice(0, 400)}`);
    }
  },
};

const otp = await new OtpWebhook().start();
// The benchmarks' server (every limit raised, embedded unless told otherwise), with cheap argon2.
const server = await benchServer(
  {
    DATABASE_URL: process.env.FUZZ_DATABASE_URL ?? '',
    REDIS_URL: process.env.FUZZ_REDIS_URL ?? '',
    LOG_LEVEL: 'warn',
    OTP_WEBHOOK_URL: otp.url,
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_ITERATIONS: '1',
  },
  createLogger('warn', destination),
);
const { config } = server;
try {
  const api = client(server.url);
  const users = [await createUser(api, otp), await createUser(api, otp)];
  const device = await SignalDevice.create({ userId: users[1]?.userId as string, deviceId: 1 });
  await api.post('/keys/upload', await device.generateKeys({ preKeys: 50, kyberPreKeys: 10 }), {
    token: users[1]?.accessToken,
  });
  console.log(`fuzz: seed ${seed}, ${count} requests, backends ${JSON.stringify(config.backends)}`);
  const started = performance.now();
  const result = await fuzz(
    { baseUrl: server.url, tokens: users.map((u) => u.accessToken), knownIds: users.map((u) => u.userId) },
    { seed, count, concurrency: Number(values.concurrency) },
  );
  const s = (performance.now() - started) / 1000;
  console.log(`${result.requests} requests over ${result.operations} operations in ${s.toFixed(1)} s`);
  console.log('statuses', result.statuses);
  for (const f of result.findings.slice(0, 50)) console.log('FINDING', JSON.stringify(f));
  for (const e of errors.slice(0, 50)) console.log('ERROR LOG', e);
  console.log(`${result.findings.length} findings, ${errors.length} error log lines (seed ${seed})`);
  process.exitCode = result.findings.length || errors.length ? 1 : 0;
} finally {
  await server.close();
  await otp.stop();
  await rm(config.dataDir, { recursive: true, force: true });
}
