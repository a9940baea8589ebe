import { Server, ServerCredentials } from '@grpc/grpc-js';
import {
  file_snaptalker_v1_keys,
  file_snaptalker_v1_messages,
  KeyExchangeService,
  MessageService,
} from '@snaptalker/proto';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Services } from '../../services/index.js';
import { serveHealth } from './health.js';
import { keyExchangeService } from './key-exchange.service.js';
import { LiveStreams, messageService } from './message.service.js';
import { readTls, Tls13ServerCredentials } from '../tls.js';
import { serveReflection } from './reflection.js';
import { implement, serviceDefinition } from './service-adapter.js';

/** REST's 2 MiB body limit; protobuf framing and field tags get a little room on top. */
export const GRPC_MAX_MESSAGE_BYTES = 2 * 1024 * 1024 + 16 * 1024;

export interface GrpcDeps {
  config: Config;
  log: Logger;
  /** Optional so tests can start the gRPC server alone; the server wires it. */
  metrics?: Metrics;
  services: Services;
}

export interface RunningGrpcServer {
  port: number;
  /** Reads the certificate files again (SIGHUP); no-op without TLS. */
  reloadTls(): Promise<void>;
  close(): Promise<void>;
}

export async function startGrpcServer({ config, log, metrics, services }: GrpcDeps): Promise<RunningGrpcServer> {
  const grpcLog = log.child({ transport: 'grpc' });
  const server = new Server({
    'grpc.max_receive_message_length': GRPC_MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': GRPC_MAX_MESSAGE_BYTES,
    // Like the WebSocket heartbeat: a vanished phone is noticed, so its stream and subscription go.
    'grpc.keepalive_time_ms': config.WS_PING_INTERVAL_S * 1000,
    'grpc.keepalive_timeout_ms': config.WS_PING_INTERVAL_S * 1000,
  });
  const live = new LiveStreams();
  server.addService(
    serviceDefinition(MessageService),
    implement(MessageService, messageService(services, live), grpcLog, metrics),
  );
  server.addService(
    serviceDefinition(KeyExchangeService),
    implement(KeyExchangeService, keyExchangeService(services), grpcLog, metrics),
  );
  const health = await serveHealth(server, services, [MessageService.typeName, KeyExchangeService.typeName], grpcLog);
  serveReflection(server, [file_snaptalker_v1_messages, file_snaptalker_v1_keys]);

  const host = config.HOST === '127.0.0.1' ? '127.0.0.1' : '0.0.0.0';
  let port: number;
  let tlsCreds: Tls13ServerCredentials | null = null;
  try {
    if (config.grpcTls) tlsCreds = new Tls13ServerCredentials(await readTls(config.grpcTls));
    const creds = tlsCreds ?? ServerCredentials.createInsecure();
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host}:${config.GRPC_PORT}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
  } catch (e) {
    health.stop();
    server.forceShutdown();
    throw e;
  }
  grpcLog.info({ port, tls: Boolean(tlsCreds) }, 'grpc listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    async reloadTls() {
      if (tlsCreds && config.grpcTls) tlsCreds.reload(await readTls(config.grpcTls));
    },
    close() {
      // Live streams never finish on their own: end them (UNAVAILABLE) so in-flight unary calls get
      // their graceful window; whatever is still open after SHUTDOWN_TIMEOUT_MS is cut.
      closing ??= new Promise<void>((resolve) => {
        health.stop();
        live.closeAll();
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, config.SHUTDOWN_TIMEOUT_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}
