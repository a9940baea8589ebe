import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../services/index.js';
import {
  BundleParams,
  BundleQuery,
  PreKeyIdParams,
  SignedPreKey,
  UploadKeysInput,
} from '../../services/keys/keys.schemas.js';

export function keysRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/keys/upload', { schema: { body: UploadKeysInput } }, (req) => services.keys.upload(req.actor, req.body));
    app.get('/keys/bundle/:userId', { schema: { params: BundleParams, querystring: BundleQuery } }, (req) =>
      services.keys.bundle(req.actor, req.params.userId, req.query.deviceId),
    );
    app.post('/keys/signed-prekey', { schema: { body: SignedPreKey } }, async (req, reply) => {
      await services.keys.rotateSignedPreKey(req.actor, req.body);
      return reply.status(204).send();
    });
    app.delete('/keys/prekey/:id', { schema: { params: PreKeyIdParams } }, async (req, reply) => {
      await services.keys.markUsed(req.actor, req.params.id);
      return reply.status(204).send();
    });
    app.get('/keys/count', (req) => services.keys.counts(req.actor));
  };
}
