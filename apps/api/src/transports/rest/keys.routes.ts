import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../services/index.js';
import {
  BundleParams,
  BundleQuery,
  BundleReply,
  KeyCountsReply,
  PreKeyIdParams,
  SignedPreKey,
  UploadKeysInput,
} from '../../services/keys/keys.schemas.js';
import { AUTH_ERRORS, BEARER, BODY_ERRORS, NoContent, withErrors } from './responses.js';

const tags = ['keys'];

export function keysRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/keys/upload',
      {
        schema: {
          tags,
          operationId: 'uploadKeys',
          summary: 'Upload identity key, signed prekey and one-time prekeys (signatures verified)',
          security: BEARER,
          body: UploadKeysInput,
          response: withErrors({ 200: KeyCountsReply }, [...BODY_ERRORS, ...AUTH_ERRORS, 409]),
        },
      },
      (req) => services.keys.upload(req.actor, req.body),
    );
    app.get(
      '/keys/bundle/:userId',
      {
        schema: {
          tags,
          operationId: 'keyBundle',
          summary: 'Fetch a prekey bundle per device; claims one one-time EC and Kyber prekey each',
          security: BEARER,
          params: BundleParams,
          querystring: BundleQuery,
          response: withErrors({ 200: BundleReply }, [400, ...AUTH_ERRORS, 404, 429]),
        },
      },
      (req) => services.keys.bundle(req.actor, req.params.userId, req.query.deviceId),
    );
    app.post(
      '/keys/signed-prekey',
      {
        schema: {
          tags,
          operationId: 'rotateSignedPreKey',
          summary: "Replace the device's signed prekey (signature verified)",
          security: BEARER,
          body: SignedPreKey,
          response: withErrors({ 204: NoContent }, [...BODY_ERRORS, ...AUTH_ERRORS, 404, 409]),
        },
      },
      async (req, reply) => {
        await services.keys.rotateSignedPreKey(req.actor, req.body);
        return reply.status(204).send();
      },
    );
    app.delete(
      '/keys/prekey/:id',
      {
        schema: {
          tags,
          operationId: 'markPreKeyUsed',
          summary: "Mark one of the caller's one-time prekeys used (idempotent)",
          security: BEARER,
          params: PreKeyIdParams,
          response: withErrors({ 204: NoContent }, [...BODY_ERRORS, ...AUTH_ERRORS, 404]),
        },
      },
      async (req, reply) => {
        await services.keys.markUsed(req.actor, req.params.id);
        return reply.status(204).send();
      },
    );
    app.get(
      '/keys/count',
      {
        schema: {
          tags,
          operationId: 'keyCounts',
          summary: "Unused one-time prekeys of the caller's device",
          security: BEARER,
          response: withErrors({ 200: KeyCountsReply }, [...AUTH_ERRORS]),
        },
      },
      (req) => services.keys.counts(req.actor),
    );
  };
}
