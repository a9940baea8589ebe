import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Config } from '../config/index.js';
import { AccountsRepo } from '../infra/db/repos/accounts.repo.js';
import type { Infra } from '../infra/index.js';
import { loadOrCreateSecret } from '../infra/secrets.js';
import type { Metrics } from '../observability/metrics.js';
import { AccountsService } from './accounts/accounts.service.js';
import { OtpStore } from './accounts/otp.js';
import { Passwords } from './accounts/passwords.js';
import { Tokens } from './accounts/tokens.js';
import { OpsService } from './ops/ops.service.js';
import { KeysService } from './keys/keys.service.js';
import { KeysRepo } from '../infra/db/repos/keys.repo.js';
import { MessagesRepo } from '../infra/db/repos/messages.repo.js';
import { MessagingService } from './messaging/messaging.service.js';
import { ConnectionCap, Limits } from './rate-limits.js';
import { AttachmentsRepo } from '../infra/db/repos/attachments.repo.js';
import { AttachmentsService } from './attachments/attachments.service.js';
import { CallsRepo } from '../infra/db/repos/calls.repo.js';
import { CallsService } from './calls/calls.service.js';
import { AdminRepo } from '../infra/db/repos/admin.repo.js';
import { AdminAuthService } from './admin/admin-auth.service.js';
import { AdminService } from './admin/admin.service.js';
import { AdminTokens } from './admin/admin-tokens.js';
import { NodeStatsSampler } from './admin/node-stats.js';

export interface Services {
  ops: OpsService;
  accounts: AccountsService;
  keys: KeysService;
  messaging: MessagingService;
  /** Open WebSockets per client IP on this node, shared by every socket endpoint. */
  connections: ConnectionCap;
  attachments: AttachmentsService;
  calls: CallsService;
  /** Console sign-in (admins are not users) and the console's reads and actions. */
  adminAuth: AdminAuthService;
  admin: AdminService;
  /** This node's dashboard figures, written to node_stats; started and stopped with the server. */
  nodeStats: NodeStatsSampler;
}

export interface ServiceDeps {
  config: Config;
  infra: Infra;
  log: Logger;
  metrics: Metrics;
}

/** The one service layer; every transport (REST, WS, tRPC, gRPC) receives this object and nothing below it. */
export async function buildServices(deps: ServiceDeps): Promise<Services> {
  const { config, infra, log } = deps;
  const secret = await loadOrCreateSecret(config.JWT_SECRET, config.dataDir, 'jwt');
  if (!config.JWT_SECRET && config.backends.database === 'postgres') {
    log.warn('JWT_SECRET is not set: tokens are signed with a per-node secret; set it when running several nodes');
  }
  const limits = new Limits(infra.limiter);
  const passwords = new Passwords({
    memoryCost: config.ARGON2_MEMORY_KIB,
    timeCost: config.ARGON2_ITERATIONS,
    parallelism: config.ARGON2_PARALLELISM,
  });
  let devicesChanged: (userId: string) => Promise<void> = async () => {};
  const accounts = new AccountsService({
    config,
    repo: new AccountsRepo(infra.db.prisma),
    passwords,
    tokens: new Tokens(secret, config.ACCESS_TOKEN_TTL_S),
    otp: new OtpStore(infra.kv, secret),
    sms: infra.sms,
    limits,
    broker: infra.broker,
    log,
    devicesChanged: (userId) => devicesChanged(userId),
  });
  const keys = new KeysService({
    config,
    repo: new KeysRepo(infra.db.prisma, infra.db.sql),
    kv: infra.kv,
    broker: infra.broker,
    limits,
    log,
    devicesChanged: (userId) => devicesChanged(userId),
  });
  const messagesRepo = new MessagesRepo(infra.db.prisma, infra.db.sql);
  const messaging = new MessagingService({
    config,
    repo: messagesRepo,
    broker: infra.broker,
    kv: infra.kv,
    limits,
    metrics: deps.metrics,
    log,
    lowKeysOnConnect: (actor) => keys.lowKeysOnConnect(actor),
  });
  await messaging.start();
  await accounts.start();
  // Registering, reinstalling or unlinking a device changes who a send must cover.
  devicesChanged = (userId) => messaging.devices.changed(userId);
  new Gauge({
    name: 'message_queue_depth',
    help: 'Undelivered envelopes stored (read at scrape time)',
    registers: [deps.metrics.registry],
    async collect() {
      this.set(await messagesRepo.queueDepth().catch(() => 0));
    },
  });
  const attachmentsRepo = new AttachmentsRepo(infra.db.prisma);
  const attachments = new AttachmentsService({
    config,
    repo: attachmentsRepo,
    blobs: infra.blobs,
    urls: infra.blobUrls,
    limits,
    metrics: deps.metrics,
    log,
  });
  const callsRepo = new CallsRepo(infra.db.prisma);
  const calls = new CallsService({
    config,
    repo: callsRepo,
    broker: infra.broker,
    kv: infra.kv,
    limits,
    metrics: deps.metrics,
    log,
  });
  new Gauge({
    name: 'attachment_stored_bytes',
    help: 'Bytes of completed attachments held in storage (read at scrape time)',
    registers: [deps.metrics.registry],
    async collect() {
      this.set(await attachmentsRepo.storedBytes().catch(() => 0));
    },
  });
  new Gauge({
    name: 'calls_active',
    help: 'Calls ringing or connected, on all nodes (read from the database at scrape time)',
    registers: [deps.metrics.registry],
    async collect() {
      this.set(await callsRepo.countLive().catch(() => 0));
    },
  });
  const adminRepo = new AdminRepo(infra.db.prisma);
  const adminAuth = new AdminAuthService({
    config,
    repo: adminRepo,
    passwords,
    tokens: new AdminTokens(secret, config.ADMIN_ACCESS_TOKEN_TTL_S),
    limits,
    log,
  });
  await adminAuth.ensureInitialOwner();
  return {
    adminAuth,
    admin: new AdminService({ config, repo: adminRepo, accounts, passwords, log }),
    nodeStats: new NodeStatsSampler({
      repo: adminRepo,
      metrics: deps.metrics,
      log,
      intervalMs: config.ADMIN_STATS_INTERVAL_MS,
    }),
    ops: new OpsService(infra, config.READY_CHECK_TIMEOUT_MS),
    accounts,
    keys,
    messaging,
    attachments,
    calls,
    connections: new ConnectionCap(config.WS_MAX_CONNECTIONS_PER_IP),
  };
}
