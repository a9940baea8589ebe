import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';
import type { Services } from '../../services/index.js';

export function opsRoutes(services: Services, metrics: Metrics): FastifyPluginAsync {
  return async (app) => {
    app.get('/health', async () => ({ status: 'ok' }));

    app.get('/ready', async (_req, reply) => {
      const { ok, checks } = await services.ops.readiness();
      if (ok) return { status: 'ok', checks };
      const failing = Object.entries(checks)
        .filter(([, c]) => !c.ok)
        .map(([name]) => name);
      return reply.status(503).send({
        error: { code: 'UNAVAILABLE', message: `not ready: ${failing.join(', ')} unavailable`, details: { checks } },
      });
    });

    app.get('/metrics', async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  };
}
