import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deviceId } from '../../domain/schemas.js';
import { LoginInput, RefreshInput, RegisterInput, VerifyInput } from '../../services/accounts/accounts.schemas.js';
import type { Services } from '../../services/index.js';

export function publicAccountRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/auth/register', { schema: { body: RegisterInput } }, async (req, reply) =>
      reply.status(201).send(await services.accounts.register({ ip: req.ip }, req.body)),
    );
    app.post('/auth/verify', { schema: { body: VerifyInput } }, (req) =>
      services.accounts.verify({ ip: req.ip }, req.body),
    );
    app.post('/auth/login', { schema: { body: LoginInput } }, (req) =>
      services.accounts.login({ ip: req.ip }, req.body),
    );
    app.post('/auth/refresh', { schema: { body: RefreshInput } }, (req) => services.accounts.refresh(req.body));
  };
}

export function accountRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/auth/logout', async (req, reply) => {
      await services.accounts.logout(req.actor);
      return reply.status(204).send();
    });
    app.get('/me', (req) => services.accounts.me(req.actor));
    app.delete('/devices/:deviceId', { schema: { params: z.strictObject({ deviceId }) } }, async (req, reply) => {
      await services.accounts.unlinkDevice(req.actor, req.params.deviceId);
      return reply.status(204).send();
    });
  };
}
