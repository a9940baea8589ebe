#!/usr/bin/env node
// `pnpm start`: builds the API and the admin console, then runs both on this machine — the API
// (apps/api/dist/main.js, embedded defaults unless DATABASE_URL/REDIS_URL/… say otherwise) and the
// console (`next start` on ADMIN_PORT, default 3001, talking to the API at SNAPTALKER_API_URL, default
// this API). AUTH_SECRET (the console's session-cookie key) comes from the environment, or is generated
// once into <DATA_DIR>/admin-auth-secret (0600). Signals go to both; when either exits, so does the other.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const say = (msg) => process.stdout.write(`[start] ${msg}\n`);

const turbo = join(repo, 'node_modules/.bin/turbo');
const build = spawnSync(
  turbo,
  ['run', 'build', '--filter=@snaptalker/api...', '--filter=@snaptalker/admin...', '--output-logs=errors-only'],
  { cwd: repo, stdio: 'inherit', env: { ...env, NEXT_TELEMETRY_DISABLED: '1' } },
);
if (build.status !== 0) process.exit(build.status ?? 1);

// The same data directory the API uses (apps/api/src/config: DATA_DIR relative to where pnpm was run).
const dataDir = resolve(env.INIT_CWD ?? process.cwd(), env.DATA_DIR || './data');
mkdirSync(dataDir, { recursive: true });
let authSecret = env.AUTH_SECRET;
if (!authSecret) {
  const file = join(dataDir, 'admin-auth-secret');
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  authSecret = readFileSync(file, 'utf8').trim();
}

/** Port `0` means any free one; the console needs to know the API's, so pick it here. */
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(String(port)));
    });
  });
}
const host = env.HOST || '0.0.0.0';
const apiPort = env.PORT === '0' ? await freePort() : env.PORT || '3000';
const adminPort = env.ADMIN_PORT === '0' ? await freePort() : env.ADMIN_PORT || '3001';
const apiUrl = env.SNAPTALKER_API_URL || `${env.TLS_CERT_FILE ? 'https' : 'http'}://127.0.0.1:${apiPort}`;

const children = [];
let exiting = false;
let stoppedBySignal = false;
function run(name, args, cwd, extraEnv) {
  const child = spawn(process.execPath, args, { cwd, stdio: 'inherit', env: { ...env, ...extraEnv } });
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!exiting) say(`${name} exited (${signal ?? code}); stopping the rest`);
    // Stopped by us (a signal we forwarded): not a failure. Died on its own: exit non-zero.
    shutdown(stoppedBySignal ? 0 : (code ?? 1) || 1);
  });
  return child;
}

function shutdown(code, signal = 'SIGTERM') {
  if (!exiting) {
    exiting = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  }
  process.exitCode = process.exitCode || code;
  if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(process.exitCode);
}
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    if (!exiting) stoppedBySignal = true;
    shutdown(0, signal);
  });

// --max-semi-space-size: see apps/api/Dockerfile (GC cost on the message path).
run('API', ['--max-semi-space-size=32', 'apps/api/dist/main.js'], repo, { DATA_DIR: dataDir, PORT: apiPort });
const adminDir = join(repo, 'apps/admin');
run(
  'admin console',
  [join(adminDir, 'node_modules/next/dist/bin/next'), 'start', adminDir, '--port', adminPort, '--hostname', host],
  adminDir,
  {
    NODE_ENV: 'production',
    NEXT_TELEMETRY_DISABLED: '1',
    SNAPTALKER_API_URL: apiUrl,
    AUTH_SECRET: authSecret,
  },
);

const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
say(`API on port ${apiPort}; admin console at http://${shown}:${adminPort} (using the API at ${apiUrl})`);
say(
  `first run: sign in to the console as the initial owner (admin@snaptalker.local unless ADMIN_INITIAL_EMAIL is set); ` +
    `the password is in ${join(dataDir, 'admin-initial-password.txt')} (unless ADMIN_INITIAL_PASSWORD was set)`,
);
