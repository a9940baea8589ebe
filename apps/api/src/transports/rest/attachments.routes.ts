import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../config/index.js';
import { isAppError } from '../../domain/errors.js';
import {
  AttachmentParams,
  AttachmentReply,
  BlobQuery,
  CompleteAttachmentReply,
  CreateAttachmentInput,
  CreateAttachmentReply,
} from '../../services/attachments/attachments.schemas.js';
import type { Services } from '../../services/index.js';
import { AUTH_ERRORS, BEARER, BODY_ERRORS, NoContent, withErrors } from './responses.js';

const tags = ['attachments'];

/** The authenticated calls: create, complete, get, delete. */
export function attachmentsRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/attachments',
      {
        schema: {
          tags,
          operationId: 'createAttachment',
          summary: 'Reserve an attachment: an upload URL for exactly `size` bytes of ciphertext',
          security: BEARER,
          body: CreateAttachmentInput,
          response: withErrors({ 201: CreateAttachmentReply }, [...BODY_ERRORS, ...AUTH_ERRORS, 429]),
        },
      },
      async (req, reply) => reply.status(201).send(await services.attachments.create(req.actor, req.body)),
    );
    app.post(
      '/attachments/:id/complete',
      {
        schema: {
          tags,
          operationId: 'completeAttachment',
          summary: 'Confirm the upload: the stored object must have the declared size',
          security: BEARER,
          params: AttachmentParams,
          response: withErrors({ 200: CompleteAttachmentReply }, [...BODY_ERRORS, ...AUTH_ERRORS, 404]),
        },
      },
      (req) => services.attachments.complete(req.actor, req.params.id),
    );
    app.get(
      '/attachments/:id',
      {
        schema: {
          tags,
          operationId: 'getAttachment',
          summary: 'A download URL for a completed attachment',
          security: BEARER,
          params: AttachmentParams,
          response: withErrors({ 200: AttachmentReply }, [400, ...AUTH_ERRORS, 404]),
        },
      },
      (req) => services.attachments.get(req.actor, req.params.id),
    );
    app.delete(
      '/attachments/:id',
      {
        schema: {
          tags,
          operationId: 'deleteAttachment',
          summary: 'Delete an attachment (its uploader only)',
          security: BEARER,
          params: AttachmentParams,
          response: withErrors({ 204: NoContent }, [...BODY_ERRORS, ...AUTH_ERRORS, 404]),
        },
      },
      async (req, reply) => {
        await services.attachments.delete(req.actor, req.params.id);
        return reply.status(204).send();
      },
    );
  };
}

const Binary = z.string().meta({ description: 'the ciphertext bytes', contentMediaType: 'application/octet-stream' });

/**
 * The disk backend's blob route, authorised by its signed query (no bearer token: the URL is the
 * credential, as with S3). Bodies are never parsed or buffered: the request stream goes to disk.
 */
export function attachmentBlobRoutes(services: Services, config: Config): FastifyPluginAsyncZod {
  return async (app) => {
    // In this scope only: every body is left as the raw request stream (JSON included).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req, _payload, done) => done(null));
    app.put(
      '/attachments/:id/blob',
      {
        // Not enforced by Fastify for a raw stream; the declared size is the real limit (413).
        bodyLimit: config.ATTACHMENT_MAX_BYTES,
        schema: {
          tags,
          operationId: 'uploadAttachmentBlob',
          summary: 'Upload the ciphertext (disk backend; the signed `uploadUrl`)',
          params: AttachmentParams,
          querystring: BlobQuery,
          response: withErrors({ 204: NoContent }, [400, 403, 404, 409, 413]),
        },
      },
      async (req, reply) => {
        const length = req.headers['content-length'];
        await services.attachments.receiveBlob(
          req.params.id,
          req.query,
          req.raw,
          length === undefined ? undefined : Number(length),
        );
        return reply.status(204).send();
      },
    );
    app.get(
      '/attachments/:id/blob',
      {
        schema: {
          tags,
          operationId: 'downloadAttachmentBlob',
          summary: 'Download the ciphertext (disk backend; the signed `downloadUrl`); honours Range',
          params: AttachmentParams,
          querystring: BlobQuery,
          response: {
            ...withErrors({}, [400, 403, 404, 416]),
            200: { description: 'the whole blob', content: { 'application/octet-stream': { schema: Binary } } },
            206: {
              description: 'the requested byte range (`Content-Range`)',
              content: { 'application/octet-stream': { schema: Binary } },
            },
          },
        },
      },
      async (req, reply) => {
        const blob = await services.attachments.openBlob(req.params.id, req.query, req.headers.range).catch((e) => {
          // RFC 9110: a 416 names the current length.
          if (isAppError(e) && e.code === 'RANGE_NOT_SATISFIABLE')
            reply.header('content-range', `bytes */${e.details.size}`);
          throw e;
        });
        reply
          .header('content-type', 'application/octet-stream')
          .header('content-disposition', 'attachment')
          .header('accept-ranges', 'bytes');
        if (blob.range) {
          const { start, end } = blob.range;
          reply
            .status(206)
            .header('content-range', `bytes ${start}-${end}/${blob.size}`)
            .header('content-length', String(end - start + 1));
        } else {
          reply.header('content-length', String(blob.size));
        }
        return reply.send(blob.stream as never);
      },
    );
  };
}
