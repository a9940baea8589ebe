import { resolve } from 'node:path';
import { type Env, envSchema } from './env.js';

export type RateLimitRule = { points: number; durationS: number };

export type Config = Env & {
  dataDir: string;
  /** HTTPS/WSS certificate files (TLS_*), or null for plain HTTP. */
  httpTls: { certFile: string; keyFile: string } | null;
  /** gRPC certificate files (GRPC_TLS_*, else TLS_*), or null for plaintext. */
  grpcTls: { certFile: string; keyFile: string } | null;
  /** Which implementation each infrastructure interface gets, decided once here. */
  backends: {
    database: 'postgres' | 'pglite';
    redis: 'redis' | 'memory';
    storage: 's3' | 'disk';
    sms: 'webhook' | 'console';
  };
};

export class ConfigError extends Error {}

/** Parses the environment once; the only place that reads process.env. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join('.') ?? 'environment';
    throw new ConfigError(`invalid configuration: ${name}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  if (e.S3_ENDPOINT && (!e.S3_ACCESS_KEY || !e.S3_SECRET_KEY)) {
    throw new ConfigError(
      'invalid configuration: S3_ACCESS_KEY: S3_ACCESS_KEY and S3_SECRET_KEY are required with S3_ENDPOINT',
    );
  }
  if (Boolean(e.GRPC_TLS_CERT_FILE) !== Boolean(e.GRPC_TLS_KEY_FILE)) {
    throw new ConfigError(
      'invalid configuration: GRPC_TLS_CERT_FILE: GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE go together (both or neither)',
    );
  }
  if (Boolean(e.TLS_CERT_FILE) !== Boolean(e.TLS_KEY_FILE)) {
    throw new ConfigError(
      'invalid configuration: TLS_CERT_FILE: TLS_CERT_FILE and TLS_KEY_FILE go together (both or neither)',
    );
  }
  if (e.TURN_SECRET && e.TURN_URLS.length === 0) {
    throw new ConfigError('invalid configuration: TURN_URLS: TURN_URLS is required with TURN_SECRET');
  }
  const httpTls = e.TLS_CERT_FILE && e.TLS_KEY_FILE ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE } : null;
  return {
    ...e,
    httpTls,
    grpcTls:
      e.GRPC_TLS_CERT_FILE && e.GRPC_TLS_KEY_FILE
        ? { certFile: e.GRPC_TLS_CERT_FILE, keyFile: e.GRPC_TLS_KEY_FILE }
        : httpTls,
    // Relative to where the user ran the command (pnpm runs scripts inside apps/api, INIT_CWD is the caller's directory).
    dataDir: resolve(env.INIT_CWD ?? process.cwd(), e.DATA_DIR),
    backends: {
      database: e.DATABASE_URL ? 'postgres' : 'pglite',
      redis: e.REDIS_URL ? 'redis' : 'memory',
      storage: e.S3_ENDPOINT ? 's3' : 'disk',
      sms: e.OTP_WEBHOOK_URL ? 'webhook' : 'console',
    },
  };
}
