import { randomUUID } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import { AppError } from '../../domain/errors.js';
import { redactUrl } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Services } from '../../services/index.js';
import { errorHandler, sendError } from './errors.js';
import { accountRoutes, publicAccountRoutes } from './accounts.routes.js';
import { requireActor } from './auth.js';
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import { type AppRouter, appRouter } from '../trpc/root.js';
import { contextFactory } from '../trpc/trpc.js';
import { httpServerFactory } from '../tls.js';
import { messagesSocket } from '../ws/messages.socket.js';
import { keysRoutes } from './keys.routes.js';
import { messagesRoutes } from './messages.routes.js';
import { openapi } from './openapi.js';
import { opsRoutes } from './ops.routes.js';

export const BODY_LIMIT_BYTES = 2 * 1024 * 1024;
export const WS_MAX_FRAME_BYTES = 512 * 1024;

export interface HttpDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  services: Services;
  /** Certificate and key for HTTPS/WSS (TLS 1.3 only); absent = plain HTTP. */
  tls?: SecureContextOptions | null;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const { log, metrics, services } = deps;
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: deps.config.TRUST_PROXY,
    serverFactory: httpServerFactory(deps.tls ?? null),
    // Our onResponse hook writes the one access line per request, with the URL redacted.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    // Our own onRequest hook answers during shutdown, with the contract's error body.
    return503OnClosing: false,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  // Bodies are JSON only: anything else (text/plain included) is 415.
  app.removeContentTypeParser(['text/plain']);
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new AppError('NOT_FOUND', `no route for ${req.method} ${redactUrl(req.url).split('?')[0]}`)),
  );

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (closing) {
      reply.header('connection', 'close');
      return sendError(reply, new AppError('UNAVAILABLE', 'server is shutting down'));
    }
  });
  // One access-log line per request, URL redacted (browsers pass ?token= on WebSocket upgrades).
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe(
      { method: req.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    req.log.info(
      { method: req.method, url: redactUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  await app.register(websocket, {
    options: { maxPayload: WS_MAX_FRAME_BYTES },
    preClose(done) {
      // Graceful shutdown: tell every client to go elsewhere (1001) before the server stops.
      for (const client of app.websocketServer.clients) client.close(1001, 'server shutting down');
      app.websocketServer.close();
      done();
    },
  });

  // Before every route: the OpenAPI document is collected from the routes as they register.
  await app.register(openapi);
  await app.register(opsRoutes(services, metrics));
  await app.register(fastifyTRPCPlugin<AppRouter>, {
    prefix: '/trpc',
    useWSS: true,
    trpcOptions: {
      router: appRouter,
      createContext: contextFactory(services),
      keepAlive: { enabled: true, pingMs: deps.config.WS_PING_INTERVAL_S * 1000, pongWaitMs: 10_000 },
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ err: error.cause ?? error, path }, 'trpc call failed');
      },
    },
  });
  await app.register(
    async (api) => {
      await api.register(publicAccountRoutes(services));
      // WebSockets authenticate in their own upgrade hook (header or ?token=).
      await api.register(messagesSocket(services, metrics, deps.config.WS_PING_INTERVAL_S));
      // Sibling scope: only these routes see the auth hook.
      await api.register(async (authed) => {
        authed.addHook('onRequest', requireActor(services));
        await authed.register(accountRoutes(services));
        await authed.register(keysRoutes(services));
        await authed.register(messagesRoutes(services));
      });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
