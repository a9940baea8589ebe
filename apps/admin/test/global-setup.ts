import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const here = dirname(fileURLToPath(import.meta.url));
const adminDir = resolve(here, '..');
const repo = resolve(adminDir, '../..');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  proc: ChildProcess,
  log: () => string,
  ms = 60_000,
) {
  const end = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${what} exited ${proc.exitCode}:\n${log()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`${what} not ready after ${ms} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function start(name: string, args: string[], cwd: string, env: Record<string, string>, logFile: string) {
  const proc = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } as unknown as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
    appendFileSync(logFile, d);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return { proc, log: () => `[${name}]\n${out}` };
}

async function stop(proc: ChildProcess) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  const killed = await Promise.race([
    new Promise<boolean>((r) => proc.once('exit', () => r(true))),
    new Promise<boolean>((r) => setTimeout(() => r(false), 10_000)),
  ]);
  if (!killed) proc.kill('SIGKILL');
}

/**
 * Starts, for the whole run: a fresh PostgreSQL database, an OTP webhook receiver (codes appended to a
 * file the tests read), the built API (`apps/api/dist/main.js`) and the built console (`next start`).
 * Returns the teardown, which stops both and drops the database.
 */
export default async function globalSetup() {
  const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const redisBase = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  for (const f of [join(repo, 'apps/api/dist/main.js'), join(adminDir, '.next/BUILD_ID')])
    if (!existsSync(f)) throw new Error(`${f} is missing: build first (turbo run build --filter=@snaptalker/admin...)`);

  const work = mkdtempSync(join(tmpdir(), 'st-admin-test-'));
  const dataDir = join(work, 'data');
  const otpFile = join(work, 'otp.jsonl');
  writeFileSync(otpFile, '');

  const dbName = `snaptalker_admin_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  await admin.end();
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${dbName}`;

  const otp = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      appendFileSync(otpFile, `${body.replace(/\n/g, ' ')}\n`);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => otp.listen(0, '127.0.0.1', r));
  const otpAddr = otp.address();
  const otpPort = typeof otpAddr === 'object' && otpAddr ? otpAddr.port : 0;

  const [apiPort, consolePort] = [await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const consoleUrl = `http://127.0.0.1:${consolePort}`;
  const relaxed = '100000/60';
  const api = start(
    'api',
    ['apps/api/dist/main.js'],
    repo,
    {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      GRPC_PORT: '0',
      DATA_DIR: dataDir,
      DATABASE_URL: dbUrl.toString(),
      // Redis keys are shared with other runs on this Redis; every limit is relaxed so they never meet.
      REDIS_URL: redisBase,
      JWT_SECRET: randomBytes(32).toString('hex'),
      OTP_WEBHOOK_URL: `http://127.0.0.1:${otpPort}/otp`,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_ITERATIONS: '1',
      ADMIN_STATS_INTERVAL_MS: '1000',
      // The console refreshes an access token 90 s before it expires: at 95 s, every request made more
      // than 5 s after the last refresh goes through admin.auth.refresh (single-use refresh tokens).
      ADMIN_ACCESS_TOKEN_TTL_S: '95',
      RATE_LIMIT_REGISTER_PHONE: relaxed,
      RATE_LIMIT_REGISTER_IP: relaxed,
      RATE_LIMIT_VERIFY_IP: relaxed,
      RATE_LIMIT_LOGIN_ACCOUNT: relaxed,
      RATE_LIMIT_LOGIN_IP: relaxed,
      RATE_LIMIT_REFRESH_DEVICE: relaxed,
      RATE_LIMIT_BUNDLE_REQUESTER: relaxed,
      RATE_LIMIT_BUNDLE_TARGET: relaxed,
      RATE_LIMIT_MESSAGES_USER: '100000/1',
      RATE_LIMIT_STREAM_OPEN_DEVICE: relaxed,
      RATE_LIMIT_ADMIN_LOGIN_IP: relaxed,
    },
    join(work, 'api.log'),
  );
  const passwordFile = join(dataDir, 'admin-initial-password.txt');
  const consoleProc: { current?: ReturnType<typeof start> } = {};
  const teardown = async () => {
    if (consoleProc.current) await stop(consoleProc.current.proc);
    await stop(api.proc);
    await new Promise<void>((r) => otp.close(() => r()));
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await c.end();
    if (!process.env.ADMIN_TEST_KEEP) rmSync(work, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'API',
      async () => (await fetch(`${apiUrl}/health`)).ok && existsSync(passwordFile),
      api.proc,
      api.log,
    );
    consoleProc.current = start(
      'console',
      [
        join(adminDir, 'node_modules/next/dist/bin/next'),
        'start',
        adminDir,
        '--port',
        String(consolePort),
        '--hostname',
        '127.0.0.1',
      ],
      adminDir,
      {
        NODE_ENV: 'production',
        NEXT_TELEMETRY_DISABLED: '1',
        SNAPTALKER_API_URL: apiUrl,
        AUTH_SECRET: randomBytes(32).toString('base64'),
      },
      join(work, 'console.log'),
    );
    const c = consoleProc.current;
    await waitFor('console', async () => (await fetch(`${consoleUrl}/health`)).ok, c.proc, c.log);
  } catch (e) {
    await teardown();
    throw e;
  }
  process.env.ADMIN_TEST_API_URL = apiUrl;
  process.env.ADMIN_TEST_CONSOLE_URL = consoleUrl;
  process.env.ADMIN_TEST_OTP_FILE = otpFile;
  process.env.ADMIN_TEST_PASSWORD_FILE = passwordFile;
  return teardown;
}
