import { z } from 'zod';

const intFrom = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);

const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), z.url().optional());
const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

/** A rate limit written as `points/seconds`, e.g. `3/600` = 3 per 10 minutes. */
const limit = (def: string) =>
  z
    .string()
    .default(def)
    .transform((v, ctx) => {
      const m = /^(\d+)\/(\d+)$/.exec(v.trim());
      if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
        ctx.addIssue({ code: 'custom', message: 'must look like <points>/<seconds>, e.g. 3/600' });
        return z.NEVER;
      }
      return { points: Number(m[1]), durationS: Number(m[2]) };
    });

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: intFrom(3000, 0, 65535),
  GRPC_PORT: intFrom(50051, 0, 65535),
  // PEM files; both set = HTTPS/WSS with TLS 1.3 only, neither = plain HTTP (e.g. behind a
  // TLS-terminating proxy). gRPC uses them too unless GRPC_TLS_* are set.
  TLS_CERT_FILE: optionalString,
  TLS_KEY_FILE: optionalString,
  // PEM files; both set = gRPC over TLS 1.3, neither = TLS_* or else plaintext.
  GRPC_TLS_CERT_FILE: optionalString,
  GRPC_TLS_KEY_FILE: optionalString,
  // Behind a load balancer, take the client IP from X-Forwarded-For (rate limits key on it).
  TRUST_PROXY: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().default('./data'),

  DATABASE_URL: optionalUrl,
  DATABASE_POOL_MAX: intFrom(10, 1, 500),
  REDIS_URL: optionalUrl,

  S3_ENDPOINT: optionalUrl,
  S3_ACCESS_KEY: optionalString,
  S3_SECRET_KEY: optionalString,
  S3_BUCKET: z.string().default('snaptalker-attachments'),
  S3_REGION: z.string().default('us-east-1'),

  // The origin clients reach this API at (e.g. https://chat.example.com): the disk backend's signed
  // attachment URLs are absolute with it, and paths to resolve against the API's URL without it.
  PUBLIC_URL: optionalUrl,

  ATTACHMENT_MAX_BYTES: intFrom(100 * 1024 * 1024, 1, 5 * 1024 ** 3),
  // Declared bytes of the uploads a user created in the last 24 hours (rolling).
  ATTACHMENT_QUOTA_BYTES_PER_DAY: intFrom(1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
  ATTACHMENT_UPLOAD_TTL_S: intFrom(3600, 60, 7 * 86_400),
  ATTACHMENT_TTL_DAYS: intFrom(30, 1, 3650),
  // Lifetime of signed upload and download URLs; the contract allows at most 15 minutes.
  ATTACHMENT_URL_TTL_S: intFrom(900, 1, 900),
  RATE_LIMIT_ATTACHMENTS_USER: limit('300/3600'),

  OTP_WEBHOOK_URL: optionalUrl,
  OTP_WEBHOOK_TIMEOUT_MS: intFrom(5_000, 100, 60_000),

  JWT_SECRET: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().min(32, 'must be at least 32 characters').optional(),
  ),
  ACCESS_TOKEN_TTL_S: intFrom(900, 10, 86_400),
  REFRESH_TOKEN_TTL_DAYS: intFrom(30, 1, 365),
  ARGON2_MEMORY_KIB: intFrom(65_536, 1_024, 1_048_576),
  ARGON2_ITERATIONS: intFrom(2, 1, 20),
  ARGON2_PARALLELISM: intFrom(1, 1, 16),
  MAX_DEVICES_PER_ACCOUNT: intFrom(5, 1, 100),

  RATE_LIMIT_REGISTER_PHONE: limit('3/600'),
  RATE_LIMIT_REGISTER_IP: limit('20/3600'),
  RATE_LIMIT_VERIFY_IP: limit('30/600'),
  RATE_LIMIT_LOGIN_ACCOUNT: limit('10/900'),
  RATE_LIMIT_LOGIN_IP: limit('50/900'),
  RATE_LIMIT_REFRESH_DEVICE: limit('60/3600'),
  // Admin console (services/admin): attempts per client IP, then per-account lockout after
  // ADMIN_LOCKOUT_FAILURES consecutive wrong passwords for ADMIN_LOCKOUT_S.
  RATE_LIMIT_ADMIN_LOGIN_IP: limit('30/900'),
  ADMIN_LOCKOUT_FAILURES: intFrom(5, 1, 100),
  ADMIN_LOCKOUT_S: intFrom(900, 1, 86_400),
  ADMIN_ACCESS_TOKEN_TTL_S: intFrom(300, 10, 3_600),
  ADMIN_SESSION_TTL_S: intFrom(28_800, 60, 604_800),
  // A rotated refresh token presented again within this window is a race of two console requests
  // (answered 401); after it, reuse — the session is ended.
  ADMIN_REFRESH_GRACE_MS: intFrom(30_000, 0, 300_000),
  // The first owner's password when the admins table is empty (e.g. from a deployment secret);
  // unset = a random one written to <DATA_DIR>/admin-initial-password.txt.
  ADMIN_INITIAL_PASSWORD: optionalString,
  ADMIN_INITIAL_EMAIL: z.email().default('admin@snaptalker.local'),
  // How often each node writes its dashboard figures (node_stats); 0 turns the sampler off.
  ADMIN_STATS_INTERVAL_MS: intFrom(2_000, 0, 60_000),
  RATE_LIMIT_BUNDLE_REQUESTER: limit('60/60'),
  RATE_LIMIT_BUNDLE_TARGET: limit('20/3600'),
  RATE_LIMIT_MESSAGES_USER: limit('200/2'),
  // Per WebSocket: frame points per window; a frame costs 1 point per started 4 KiB.
  RATE_LIMIT_WS_FRAMES: limit('300/1'),
  // Message streams (WebSocket, tRPC, gRPC) opened per device.
  RATE_LIMIT_STREAM_OPEN_DEVICE: limit('20/60'),
  // Per WebSocket: frame points being processed at once; more are refused with an error frame.
  WS_MAX_INFLIGHT_POINTS: intFrom(32, 1, 10_000),
  /** Open WebSockets per client IP on one node (every socket endpoint together). */
  WS_MAX_CONNECTIONS_PER_IP: intFrom(500, 1, 1_000_000),
  // Unauthenticated WebSockets (tRPC's connectionParams) are closed after this long.
  WS_AUTH_TIMEOUT_MS: intFrom(10_000, 100, 600_000),
  // HTTP: whole request (headers + body) must arrive within REQUEST_TIMEOUT_MS, headers within
  // HEADERS_TIMEOUT_MS; idle keep-alive connections close after KEEPALIVE_TIMEOUT_MS. Sized for
  // mobile networks: a 2 MiB body at ~1 Mbit/s takes ~17 s.
  HTTP_REQUEST_TIMEOUT_MS: intFrom(30_000, 100, 600_000),
  HTTP_HEADERS_TIMEOUT_MS: intFrom(10_000, 100, 120_000),
  HTTP_KEEPALIVE_TIMEOUT_MS: intFrom(65_000, 100, 600_000),

  // Calls: an unanswered offer ends as `timeout` after CALL_RING_TIMEOUT_S; a connected party whose
  // signaling socket dropped has CALL_RECONNECT_GRACE_S to reconnect before the call ends as
  // `disconnected`; every node sweeps overdue calls every CALL_SWEEP_INTERVAL_S (a killed node's too).
  CALL_RING_TIMEOUT_S: intFrom(45, 1, 3600),
  CALL_RECONNECT_GRACE_S: intFrom(20, 0, 3600),
  CALL_SWEEP_INTERVAL_S: intFrom(5, 1, 3600),
  CALL_RETENTION_DAYS: intFrom(90, 1, 3650),
  RATE_LIMIT_CALL_OFFER: limit('30/60'),
  // TURN credentials (coturn use-auth-secret): comma-separated turn:/turns:/stun: URLs and the shared secret.
  TURN_URLS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        const urls = (v ?? '')
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean);
        for (const u of urls) {
          if (!/^(turns?|stun):[^\s]+$/.test(u)) {
            ctx.addIssue({ code: 'custom', message: `not a turn:/turns:/stun: URL: ${u}` });
            return z.NEVER;
          }
        }
        return urls;
      }),
  ),
  TURN_SECRET: optionalString,
  TURN_TTL_S: intFrom(86_400, 60, 30 * 86_400),

  PREKEY_LOW_WATERMARK: intFrom(10, 1, 100),
  MESSAGE_TTL_DAYS: intFrom(30, 1, 3650),
  DELIVERED_RETENTION_HOURS: intFrom(24, 0, 24 * 365),
  RETENTION_INTERVAL_S: intFrom(600, 1, 86_400),
  MAX_RECIPIENT_DEVICES: intFrom(16, 1, 1000),
  WS_PING_INTERVAL_S: intFrom(30, 1, 3600),
  SHUTDOWN_TIMEOUT_MS: intFrom(10_000, 100, 120_000),
  READY_CHECK_TIMEOUT_MS: intFrom(2_000, 100, 30_000),
  /** How long a node trusts a device's token version / ban state; revocations reach every node at once. */
  AUTH_CACHE_MS: intFrom(5_000, 0, 60_000),
});

export type Env = z.infer<typeof envSchema>;
