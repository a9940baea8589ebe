import { ConfigError, loadConfig } from './config/index.js';
import { createLogger } from './observability/logger.js';
import { startServer } from './server.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
  throw e;
}

const log = createLogger(config.LOG_LEVEL);
const server = await startServer(config, log).catch((e: unknown) => {
  log.fatal({ err: e instanceof Error ? e.message : String(e) }, 'failed to start');
  process.exit(1);
});
log.info({ url: server.url, backends: config.backends }, 'SnapTalker API listening');

// Certificate renewal without a restart: new handshakes get the files' current certificate.
process.on('SIGHUP', () => {
  server.reloadTls().then(
    () => log.info('TLS certificates reloaded'),
    (e: unknown) =>
      log.error({ err: e instanceof Error ? e.message : String(e) }, 'TLS reload failed; keeping the old certificates'),
  );
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e instanceof Error ? e.message : String(e) }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
