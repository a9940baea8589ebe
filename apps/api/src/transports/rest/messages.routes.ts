import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../services/index.js';
import {
  AckInput,
  AnySendInput,
  ConversationParams,
  ConversationQuery,
  ConversationReply,
  QueueQuery,
  QueueReply,
  SendReply,
  StatusInput,
  StatusParams,
  StatusReply,
} from '../../services/messaging/messaging.schemas.js';
import { AUTH_ERRORS, BEARER, BODY_ERRORS, NoContent, withErrors } from './responses.js';

const tags = ['messages'];

export function messagesRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/messages/send',
      {
        schema: {
          tags,
          operationId: 'sendMessage',
          summary: 'Send one envelope per recipient device (or the single-device shorthand)',
          security: BEARER,
          body: AnySendInput,
          response: withErrors({ 200: SendReply }, [...BODY_ERRORS, ...AUTH_ERRORS, 404, 409, 410, 429]),
        },
      },
      (req) => services.messaging.send(req.actor, req.body),
    );
    app.get(
      '/messages/queue',
      {
        schema: {
          tags,
          operationId: 'messageQueue',
          summary: "Undelivered envelopes for the caller's device, oldest first",
          security: BEARER,
          querystring: QueueQuery,
          response: withErrors({ 200: QueueReply }, [400, ...AUTH_ERRORS]),
        },
      },
      (req) => services.messaging.queue(req.actor, req.query.limit),
    );
    app.post(
      '/messages/ack',
      {
        schema: {
          tags,
          operationId: 'ackMessages',
          summary: 'Acknowledge envelopes: they become delivered (unknown ids are ignored)',
          security: BEARER,
          body: AckInput,
          response: withErrors({ 204: NoContent }, [...BODY_ERRORS, ...AUTH_ERRORS]),
        },
      },
      async (req, reply) => {
        await services.messaging.ack(req.actor, req.body.ids);
        return reply.status(204).send();
      },
    );
    app.put(
      '/messages/:id/status',
      {
        schema: {
          tags,
          operationId: 'setMessageStatus',
          summary: 'Advance a received envelope to delivered or read (never backwards)',
          security: BEARER,
          params: StatusParams,
          body: StatusInput,
          response: withErrors({ 200: StatusReply }, [...BODY_ERRORS, ...AUTH_ERRORS, 404]),
        },
      },
      (req) => services.messaging.setStatus(req.actor, req.params.id, req.body.status),
    );
    app.get(
      '/messages/:chatId',
      {
        schema: {
          tags,
          operationId: 'conversation',
          summary: 'The conversation with a user as this device sees it, newest first',
          security: BEARER,
          params: ConversationParams,
          querystring: ConversationQuery,
          response: withErrors({ 200: ConversationReply }, [400, ...AUTH_ERRORS]),
        },
      },
      (req) => services.messaging.conversation(req.actor, req.params.chatId, req.query.cursor, req.query.limit),
    );
  };
}
