// Prints argon2 cost, verify/s and logins/s, and /health latency while logins hash (event loop stays free).
// Run: pnpm --filter @snaptalker/api bench:auth   (BENCH_DATABASE_URL / BENCH_REDIS_URL for Postgres + Redis)
import { randomInt } from 'node:crypto';
import { OtpWebhook } from '../test/helpers/otp-webhook.js';
import { Passwords } from '../src/services/accounts/passwords.js';
import { benchServer, run, summary } from './lib.js';

const USERS = Number(process.env.BENCH_USERS ?? 100);
const LOGINS = Number(process.env.BENCH_LOGINS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);

const otp = await new OtpWebhook().start();
const server = await benchServer({ OTP_WEBHOOK_URL: otp.url });
const { config } = server;
const passwords = new Passwords({
  memoryCost: config.ARGON2_MEMORY_KIB,
  timeCost: config.ARGON2_ITERATIONS,
  parallelism: config.ARGON2_PARALLELISM,
});
const h0 = performance.now();
for (let i = 0; i < 10; i++) await passwords.hash('benchmark password');
console.log(
  `argon2id m=${config.ARGON2_MEMORY_KIB} KiB t=${config.ARGON2_ITERATIONS} p=${config.ARGON2_PARALLELISM}: ${((performance.now() - h0) / 10).toFixed(1)} ms per hash`,
);

const post = (path: string, body: unknown) =>
  fetch(`${server.url}/api/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (r) => {
    if (r.status >= 300) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json();
  });

const users = Array.from({ length: USERS }, (_, i) => ({
  username: `bench_${Date.now().toString(36)}_${i}`,
  phone: `+1666${randomInt(1_000_000, 9_999_999)}`,
  password: 'benchmark password',
}));
const reg = await run(USERS, CONCURRENCY, async (i) => void (await post('/auth/register', users[i])));
console.log(
  `register: ${reg.opsPerS.toFixed(0)}/s (p50 ${reg.p50} ms, p99 ${reg.p99} ms) — includes one argon2 hash each`,
);
const ver = await run(USERS, CONCURRENCY, async (i) => {
  const u = users[i]!;
  await post('/auth/verify', { phone: u.phone, code: await otp.codeFor(u.phone) });
});
console.log(`verify:   ${ver.opsPerS.toFixed(0)}/s (p50 ${ver.p50} ms, p99 ${ver.p99} ms)`);

// Health probes run alongside the login load: their latency shows whether hashing blocks the loop.
let probing = true;
const probeLat: number[] = [];
const prober = (async () => {
  while (probing) {
    const s = performance.now();
    await fetch(`${server.url}/health`);
    probeLat.push(performance.now() - s);
    await new Promise((r) => setTimeout(r, 20));
  }
})();
const login = await run(LOGINS, CONCURRENCY, async (i) => {
  const u = users[i % USERS]!;
  await post('/auth/login', { login: u.username, password: u.password });
});
probing = false;
await prober;
console.log(
  `login:    ${login.opsPerS.toFixed(0)}/s (p50 ${login.p50} ms, p99 ${login.p99} ms), concurrency ${CONCURRENCY}`,
);
const hp = summary(probeLat);
console.log(
  `/health during logins: p50 ${hp.p50} ms, p99 ${hp.p99} ms, max ${hp.max} ms over ${probeLat.length} probes`,
);
await server.close();
await otp.stop();
process.exit(0);
