import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { ErrorBody } from '../../domain/errors.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Services } from '../../services/index.js';
import { HealthReply, ReadyReply } from '../../services/ops/ops.schemas.js';

const tags = ['ops'];

export function opsRoutes(services: Services, metrics: Metrics): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/health',
      {
        schema: {
          tags,
          operationId: 'health',
          summary: 'Liveness: ok while the process is alive (no dependency checks)',
          response: { 200: HealthReply },
        },
      },
      async () => ({ status: 'ok' }),
    );

    app.get(
      '/ready',
      {
        schema: {
          tags,
          operationId: 'ready',
          summary: 'Readiness: the database, Redis (if configured) and storage answer',
          response: {
            200: ReadyReply,
            503: ErrorBody,
          },
        },
      },
      async (_req, reply) => {
        const { ok, checks } = await services.ops.readiness();
        if (ok) return { status: 'ok', checks };
        const failing = Object.entries(checks)
          .filter(([, c]) => !c.ok)
          .map(([name]) => name);
        return reply.status(503).send({
          error: { code: 'UNAVAILABLE', message: `not ready: ${failing.join(', ')} unavailable`, details: { checks } },
        });
      },
    );

    app.get(
      '/metrics',
      {
        schema: {
          tags,
          operationId: 'metrics',
          summary: 'Prometheus metrics (text exposition format)',
          // Documentation only: a string reply with a text content type is sent as is, never serialized.
          response: { 200: { content: { 'text/plain': { schema: z.string() } } } },
        },
      },
      async (_req, reply) => {
        reply.header('content-type', metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    );
  };
}
