import type { TRPCRouterRecord } from '@trpc/server';
import {
  AckInput,
  AnySendInput,
  ConversationQuery,
  QueueQuery,
  StatusInput,
  type StreamEvent,
} from '../../../services/messaging/messaging.schemas.js';
import { uuid } from '../../../domain/schemas.js';
import { deviceProcedure } from '../trpc.js';

export const messagesRouter = {
  send: deviceProcedure.input(AnySendInput).mutation(({ ctx, input }) => ctx.services.messaging.send(ctx.actor, input)),
  queue: deviceProcedure
    .input(QueueQuery.partial())
    .query(({ ctx, input }) => ctx.services.messaging.queue(ctx.actor, input.limit ?? 100)),
  ack: deviceProcedure.input(AckInput).mutation(({ ctx, input }) => ctx.services.messaging.ack(ctx.actor, input.ids)),
  setStatus: deviceProcedure
    .input(StatusInput.extend({ id: uuid }))
    .mutation(({ ctx, input }) => ctx.services.messaging.setStatus(ctx.actor, input.id, input.status)),
  conversation: deviceProcedure
    .input(ConversationQuery.partial().extend({ chatId: uuid }))
    .query(({ ctx, input }) =>
      ctx.services.messaging.conversation(ctx.actor, input.chatId, input.cursor, input.limit ?? 50),
    ),
  /**
   * The same events as the WebSocket stream, in the same order: queued envelopes, `queue.empty`,
   * then live envelopes, `message.status` and `keys.low`. A resubscription needs no event id: every
   * unacknowledged envelope is replayed from the stored queue.
   */
  events: deviceProcedure.subscription(async function* ({ ctx, signal }) {
    const stream = await ctx.services.messaging.openStream(ctx.actor);
    const stop = () => stream.close();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const event of stream.events()) {
        yield event as StreamEvent;
      }
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }),
} satisfies TRPCRouterRecord;
