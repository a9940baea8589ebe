import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { migrate } from '@snaptalker/db';
import type { Config } from './config/index.js';
import { buildInfra, type Infra } from './infra/index.js';
import { createLogger } from './observability/logger.js';
import { KeysRepo } from './infra/db/repos/keys.repo.js';
import { createMetrics } from './observability/metrics.js';
import { registerStateGauges } from './observability/state-gauges.js';
import { buildServices, type Services } from './services/index.js';
import { startGrpcServer } from './transports/grpc/server.js';
import { buildHttpApp } from './transports/rest/app.js';
import { readTls, reloadHttpsServer } from './transports/tls.js';

export interface RunningServer {
  config: Config;
  log: Logger;
  infra: Infra;
  services: Services;
  http: FastifyInstance;
  /** Base URL of the HTTP listener, e.g. http://127.0.0.1:3000 */
  url: string;
  /** Port of the gRPC listener (GRPC_PORT=0 picks a free one). */
  grpcPort: number;
  /** Reads the TLS certificate files again and swaps them into both listeners (SIGHUP). */
  reloadTls(): Promise<void>;
  close(): Promise<void>;
}

/** config → infra → services → transports. Migrations run first, advisory-locked across nodes. */
export async function startServer(
  config: Config,
  log: Logger = createLogger(config.LOG_LEVEL),
): Promise<RunningServer> {
  const infra = await buildInfra(config, log);
  try {
    const applied = await migrate(infra.db.url, { log: (line) => log.info(line) });
    log.info({ applied: applied.length, backends: config.backends }, 'database ready');
  } catch (e) {
    await infra.close();
    throw e;
  }
  const metrics = createMetrics();
  const services = await buildServices({ config, infra, log, metrics });
  const keysRepo = new KeysRepo(infra.db.prisma);
  registerStateGauges(metrics, {
    readiness: () => services.ops.readiness(),
    lowPrekeyDevices: () => keysRepo.countLowStockDevices(config.PREKEY_LOW_WATERMARK),
  });
  const http = await buildHttpApp({
    config,
    log,
    metrics,
    services,
    tls: config.httpTls ? await readTls(config.httpTls) : null,
  });
  await http.listen({ host: config.HOST, port: config.PORT });
  const addr = http.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const grpc = await startGrpcServer({ config, log, metrics, services }).catch(async (e: unknown) => {
    await http.close();
    await infra.close();
    throw e;
  });

  // Every node runs retention; the batched deletes are safe to run concurrently.
  const retention = setInterval(() => {
    services.messaging.purgeExpired().then(
      (r) => (r.delivered || r.expired) && log.info(r, 'retention purged envelopes'),
      (e: unknown) => log.warn({ err: String(e) }, 'retention run failed'),
    );
  }, config.RETENTION_INTERVAL_S * 1000);
  retention.unref();
  // Attachment cleanup on the same interval; claims are SKIP LOCKED, so nodes never collide.
  const attachmentCleanup = setInterval(() => {
    services.attachments.cleanup().then(
      (r) => (r.abandoned || r.expired) && log.info(r, 'attachment cleanup deleted objects'),
      (e: unknown) => log.warn({ err: String(e) }, 'attachment cleanup failed'),
    );
  }, config.RETENTION_INTERVAL_S * 1000);
  attachmentCleanup.unref();
  // The bucket is created at start when missing (and again on first use if storage was down).
  infra.blobs.ping().catch((e: unknown) => log.warn({ err: String(e) }, 'storage not reachable at start'));
  const callRetention = setInterval(() => {
    services.calls.purgeExpired().then(
      (n) => n && log.info({ calls: n }, 'retention purged call records'),
      (e: unknown) => log.warn({ err: String(e) }, 'call retention run failed'),
    );
  }, config.RETENTION_INTERVAL_S * 1000);
  callRetention.unref();
  services.calls.start();
  services.nodeStats.start();

  let closing: Promise<void> | undefined;
  return {
    config,
    log,
    infra,
    services,
    http,
    url: `${config.httpTls ? 'https' : 'http'}://${host}:${port}`,
    grpcPort: grpc.port,
    async reloadTls() {
      // Both files are read before either listener changes, so a bad file leaves both as they were.
      const httpTls = config.httpTls ? await readTls(config.httpTls) : null;
      await grpc.reloadTls();
      if (httpTls) reloadHttpsServer(http.server, httpTls);
    },
    close() {
      // Stop accepting, close sockets (1001), let in-flight requests finish, then release pools.
      closing ??= (async () => {
        clearInterval(retention);
        clearInterval(attachmentCleanup);
        clearInterval(callRetention);
        services.calls.close();
        await services.nodeStats.stop();
        await Promise.all([http.close(), grpc.close()]);
        await infra.close();
      })();
      return closing;
    },
  };
}
