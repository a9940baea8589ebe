import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SecureContextOptions } from 'node:tls';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import helmet from 'helmet';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import { AppError, errorBody } from '../../domain/errors.js';
import { redactUrl } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Services } from '../../services/index.js';
import { clientErrorHandler, errorHandler, frameworkErrors, sendError } from './errors.js';
import { trpcAuthDeadline } from '../trpc/auth-deadline.js';
import { trpcFrameBudget } from '../trpc/frame-budget.js';
import { accountRoutes, publicAccountRoutes } from './accounts.routes.js';
import { requireActor } from './auth.js';
import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import { type AppRouter, appRouter } from '../trpc/root.js';
import { contextFactory } from '../trpc/trpc.js';
import { httpServerFactory } from '../tls.js';
import { messagesSocket } from '../ws/messages.socket.js';
import { attachmentBlobRoutes, attachmentsRoutes } from './attachments.routes.js';
import { callsSocket } from '../ws/calls.socket.js';
import { callsRoutes } from './calls.routes.js';
import { keysRoutes } from './keys.routes.js';
import { messagesRoutes } from './messages.routes.js';
import { openapi } from './openapi.js';
import { opsRoutes } from './ops.routes.js';

export const BODY_LIMIT_BYTES = 2 * 1024 * 1024;
export const WS_MAX_FRAME_BYTES = 512 * 1024;
/** Calls per tRPC batch (HTTP or WebSocket frame); the SDK's httpBatchLink sends at most this many. */
export const TRPC_MAX_BATCH = 100;

/** `ws`'s protocol errors (WS_ERR_*: oversized frame, bad UTF-8, bad opcode…) and a peer that vanished. */
function isClientSocketError(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('WS_ERR_') || code === 'ECONNRESET' || code === 'EPIPE');
}

export interface HttpDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  services: Services;
  /** Certificate and key for HTTPS/WSS (TLS 1.3 only); absent = plain HTTP. */
  tls?: SecureContextOptions | null;
}

/** The contract's error for a bare status some plugin set (used only when the body is empty). */
function errorForStatus(status: number, req: { headers: Record<string, unknown> }): AppError {
  if (status === 404 && req.headers.upgrade === undefined && req.headers.connection !== 'upgrade') {
    return new AppError('NOT_FOUND', 'not found (WebSocket endpoints need an Upgrade request)');
  }
  const byStatus: Record<number, ConstructorParameters<typeof AppError>[0]> = {
    400: 'VALIDATION_FAILED',
    401: 'UNAUTHORIZED',
    403: 'FORBIDDEN',
    404: 'NOT_FOUND',
    409: 'CONFLICT',
    413: 'PAYLOAD_TOO_LARGE',
    415: 'UNSUPPORTED_MEDIA_TYPE',
    429: 'RATE_LIMITED',
    503: 'UNAVAILABLE',
  };
  return new AppError(byStatus[status] ?? (status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED'), 'request failed');
}

/** The API reference page: its own bundled script and styles, nothing from other origins. */
const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The security headers every reply carries, exactly as helmet sets them: its defaults, with a CSP
 * that allows nothing (the API serves JSON only) and a same-site resource policy. The options are
 * static, so helmet runs once, at start-up, against a recorder. (@fastify/helmet 13 builds helmet's
 * middleware again for every request: 30–35 µs of the 165 µs of API CPU a bundle claim took, a
 * fifth; BENCHMARKS.md.)
 */
function securityHeaders(): { set: Record<string, string>; remove: string[] } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  const recorder = {
    setHeader(name: string, value: unknown) {
      set[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      remove.push(name.toLowerCase());
    },
  } as unknown as ServerResponse;
  helmet({
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'same-site' },
  })({} as IncomingMessage, recorder, (err?: unknown) => {
    if (err) throw err;
  });
  return { set, remove };
}

export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const { log, metrics, services } = deps;
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: deps.config.TRUST_PROXY,
    // The listener (HTTP or HTTPS) carries the slow-client limits: the whole request within
    // HTTP_REQUEST_TIMEOUT_MS, headers within HTTP_HEADERS_TIMEOUT_MS, checked every second.
    serverFactory: httpServerFactory(deps.tls ?? null, {
      requestTimeoutMs: deps.config.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: deps.config.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: deps.config.HTTP_KEEPALIVE_TIMEOUT_MS,
    }),
    // Our onResponse hook writes the one access line per request, with the URL redacted.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    // Errors Fastify raises before routing (bad URL encoding, over-long parameters) and errors of
    // the HTTP parser get the contract's error body too.
    frameworkErrors,
    clientErrorHandler,
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
  // Security headers on every reply (helmet's, see securityHeaders). The reference page under
  // /docs gets the policy its bundled script needs (see below).
  const security = securityHeaders();
  app.addHook('onRequest', (_req, reply, done) => {
    reply.headers(security.set);
    for (const name of security.remove) reply.removeHeader(name);
    done();
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url.startsWith('/docs')) reply.header('content-security-policy', DOCS_CSP);
    // Replies carry tokens and per-user data: never to be kept by a cache or proxy.
    else if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
    // Plugins answer some errors with an empty body (e.g. a plain GET to a WebSocket-only route):
    // those get the contract's error body too.
    if (
      reply.statusCode >= 400 &&
      req.method !== 'HEAD' &&
      (payload === undefined || payload === null || payload === '')
    ) {
      reply.header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify(errorBody(errorForStatus(reply.statusCode, req)));
    }
    return payload;
  });
  // Bodies are JSON only: anything else (text/plain included) is 415.
  app.removeContentTypeParser(['text/plain']);
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new AppError('NOT_FOUND', `no route for ${req.method} ${redactUrl(req.url).split('?')[0]}`)),
  );

  let closing = false;
  let reaper: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    // Closing drops only the keep-alive connections idle at that instant; one whose response was
    // still finishing becomes idle a moment later and would hold the close for the whole keep-alive
    // timeout (65 s, past SHUTDOWN_TIMEOUT_MS). Keep dropping idle ones until the server is closed.
    reaper = setInterval(() => app.server.closeIdleConnections(), 100);
    reaper.unref();
  });
  app.addHook('onClose', async () => clearInterval(reaper));
  // Replies still in flight when shutdown starts end their connection instead of keeping it alive.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
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
    // The plugin's default logs every socket error at error level and terminates. A frame over
    // 512 KiB, a text frame that is not UTF-8 or any other protocol violation is the client's
    // doing: `ws` has already closed the socket with the documented code (1009, 1007, 1002), so it
    // is logged at info and the close is left to finish. Only what is not a client's fault is an error.
    errorHandler(error, socket, request) {
      if (isClientSocketError(error)) {
        request.log.info(
          { code: (error as { code?: string }).code, reason: error.message },
          'websocket closed: client protocol error',
        );
        return;
      }
      request.log.error({ err: error }, 'websocket error');
      socket.terminate();
    },
    preClose(done) {
      // Graceful shutdown: tell every client to go elsewhere (1001) before the server stops.
      const clients = [...app.websocketServer.clients];
      for (const client of clients) client.close(1001, 'server shutting down');
      // A client that never completes the closing handshake (or whose own close crossed ours) would
      // hold the HTTP server's close for ws's 30 s close timeout, twice: cut those after a moment.
      const cut = setTimeout(() => {
        for (const client of clients) if (client.readyState !== client.CLOSED) client.terminate();
      }, 1_000);
      cut.unref();
      app.websocketServer.close();
      done();
    },
  });

  // Before every route: the OpenAPI document is collected from the routes as they register.
  await app.register(openapi);
  await app.register(opsRoutes(services, metrics));
  // Before the tRPC plugin, so its WebSocket route gets the budget's upgrade check.
  trpcFrameBudget(app, '/trpc', () => services.messaging.connectionBudget());
  await app.register(fastifyTRPCPlugin<AppRouter>, {
    prefix: '/trpc',
    useWSS: true,
    trpcOptions: {
      router: appRouter,
      createContext: contextFactory(services),
      // One HTTP request or WebSocket frame carried any number of calls: a 512 KiB frame held
      // ~8,000, each a service call, past the per-frame budget the raw sockets apply. Bounded like
      // the SDK's batch link (TRPC_MAX_BATCH in packages/sdk); larger batches get a 400 BAD_REQUEST.
      maxBatchSize: TRPC_MAX_BATCH,
      keepAlive: { enabled: true, pingMs: deps.config.WS_PING_INTERVAL_S * 1000, pongWaitMs: 10_000 },
      onError: ({ error, path }) => {
        // tRPC reports its socket's 'error' events here as INTERNAL_SERVER_ERROR: a client's oversized
        // or non-UTF-8 frame (ws closes it with 1009 / 1007) is the client's doing, not ours.
        if (error.cause instanceof Error && isClientSocketError(error.cause)) {
          log.info(
            { code: (error.cause as { code?: string }).code, reason: error.cause.message },
            'trpc websocket closed: client protocol error',
          );
          return;
        }
        if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ err: error.cause ?? error, path }, 'trpc call failed');
      },
    },
  });
  trpcAuthDeadline(app, '/trpc', deps.config.WS_AUTH_TIMEOUT_MS);
  await app.register(
    async (api) => {
      await api.register(publicAccountRoutes(services));
      // WebSockets authenticate in their own upgrade hook (header or ?token=).
      await api.register(messagesSocket(services, metrics, deps.config.WS_PING_INTERVAL_S));
      // Signed URLs authorise the disk backend's blob transfers; a bearer token is not asked for.
      await api.register(attachmentBlobRoutes(services, deps.config));
      await api.register(callsSocket(services, metrics, deps.config.WS_PING_INTERVAL_S));
      // Sibling scope: only these routes see the auth hook.
      await api.register(async (authed) => {
        authed.addHook('onRequest', requireActor(services));
        await authed.register(accountRoutes(services));
        await authed.register(keysRoutes(services));
        await authed.register(messagesRoutes(services));
        await authed.register(attachmentsRoutes(services));
        await authed.register(callsRoutes(services));
      });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
