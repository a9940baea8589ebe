import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { type RunningServer, startServer } from '../../src/server.js';

/** Limits raised for tests that are not about limits (a test of a limit passes the default). */
export const relaxedLimits: Record<string, string> = {
  RATE_LIMIT_REGISTER_PHONE: '1000/60',
  RATE_LIMIT_REGISTER_IP: '100000/60',
  RATE_LIMIT_VERIFY_IP: '100000/60',
  RATE_LIMIT_LOGIN_ACCOUNT: '1000/60',
  RATE_LIMIT_LOGIN_IP: '100000/60',
  RATE_LIMIT_REFRESH_DEVICE: '1000/60',
  RATE_LIMIT_BUNDLE_REQUESTER: '100000/60',
  RATE_LIMIT_BUNDLE_TARGET: '100000/60',
  RATE_LIMIT_MESSAGES_USER: '100000/1',
  RATE_LIMIT_WS_FRAMES: '1000000/1',
  RATE_LIMIT_STREAM_OPEN_DEVICE: '100000/60',
  RATE_LIMIT_ADMIN_LOGIN_IP: '100000/60',
  // Cheap argon2 for speed; the benchmark and the default config use the real cost.
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_ITERATIONS: '1',
};

export async function testEnv(env: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    HOST: '127.0.0.1',
    PORT: '0',
    GRPC_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: await mkdtemp(join(tmpdir(), 'st-data-')),
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
    TRUST_PROXY: 'true',
    ...relaxedLimits,
    ...env,
  };
}

/** A real server in this process on PostgreSQL + Redis (override DATABASE_URL/REDIS_URL to change). */
export async function startTestServer(env: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(loadConfig(await testEnv(env)));
}

/** Like startTestServer, but every rate limit at its documented default (for tests of limits). */
export async function startServerWithDefaultLimits(env: Record<string, string> = {}): Promise<RunningServer> {
  const e = await testEnv(env);
  for (const k of Object.keys(e)) if (k.startsWith('RATE_LIMIT_') && !(k in env)) delete e[k];
  return startServer(loadConfig(e));
}

export interface LogLine {
  level: number;
  msg?: string;
  [k: string]: unknown;
}

/** A server whose log lines (the app's own logger, redaction included) are kept for assertions. */
export async function startTestServerWithLogs(
  env: Record<string, string> = {},
): Promise<{ server: RunningServer; logs: LogLine[]; text: () => string }> {
  const raw: string[] = [];
  const logs: LogLine[] = [];
  const destination = {
    write(chunk: string) {
      raw.push(chunk);
      for (const line of chunk.split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
    },
  };
  const config = loadConfig(await testEnv({ LOG_LEVEL: 'info', ...env }));
  const server = await startServer(config, createLogger(config.LOG_LEVEL, destination));
  return { server, logs, text: () => raw.join('') };
}
