import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../services/index.js';
import {
  AckInput,
  AnySendInput,
  ConversationParams,
  ConversationQuery,
  QueueQuery,
  StatusInput,
  StatusParams,
} from '../../services/messaging/messaging.schemas.js';

export function messagesRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/messages/send', { schema: { body: AnySendInput } }, (req) =>
      services.messaging.send(req.actor, req.body),
    );
    app.get('/messages/queue', { schema: { querystring: QueueQuery } }, (req) =>
      services.messaging.queue(req.actor, req.query.limit),
    );
    app.post('/messages/ack', { schema: { body: AckInput } }, async (req, reply) => {
      await services.messaging.ack(req.actor, req.body.ids);
      return reply.status(204).send();
    });
    app.put('/messages/:id/status', { schema: { params: StatusParams, body: StatusInput } }, (req) =>
      services.messaging.setStatus(req.actor, req.params.id, req.body.status),
    );
    app.get('/messages/:chatId', { schema: { params: ConversationParams, querystring: ConversationQuery } }, (req) =>
      services.messaging.conversation(req.actor, req.params.chatId, req.query.cursor, req.query.limit),
    );
  };
}
