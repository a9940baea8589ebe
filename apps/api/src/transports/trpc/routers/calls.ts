import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { uuid } from '../../../domain/schemas.js';
import {
  AnswerInput,
  ClientCallFrame,
  HangupInput,
  HistoryQuery,
  IceInput,
  OfferInput,
  type ServerCallFrame,
} from '../../../services/calls/calls.schemas.js';
import { dispatchCallFrame } from '../../../services/calls/dispatch.js';
import { deviceProcedure } from '../trpc.js';

/** The call engine over tRPC: REST's equivalents, the socket's frames, and its events as a subscription. */
export const callsRouter = {
  offer: deviceProcedure.input(OfferInput).mutation(({ ctx, input }) => {
    const { calleeId, ...rest } = input;
    return ctx.services.calls.offer(ctx.actor, { ...rest, to: calleeId });
  }),
  answer: deviceProcedure
    .input(AnswerInput)
    .mutation(({ ctx, input }) => ctx.services.calls.answer(ctx.actor, input.callId, input.sdp)),
  ice: deviceProcedure
    .input(IceInput)
    .mutation(({ ctx, input }) => ctx.services.calls.ice(ctx.actor, input.callId, input.candidates)),
  hangup: deviceProcedure
    .input(HangupInput)
    .mutation(({ ctx, input }) => ctx.services.calls.hangup(ctx.actor, input.callId, input.reason)),
  /** Any client frame of the signaling socket (`ping` excepted). */
  signal: deviceProcedure
    .input(ClientCallFrame.refine((f) => f.type !== 'ping', 'ping is for sockets'))
    .mutation(async ({ ctx, input }) => {
      await dispatchCallFrame(ctx.services.calls, ctx.actor, input);
    }),
  get: deviceProcedure
    .input(z.object({ callId: uuid }))
    .query(({ ctx, input }) => ctx.services.calls.get(ctx.actor, input.callId)),
  history: deviceProcedure
    .input(HistoryQuery.partial())
    .query(({ ctx, input }) => ctx.services.calls.history(ctx.actor, input.cursor, input.limit ?? 50)),
  turn: deviceProcedure.query(({ ctx }) => ctx.services.calls.turnCredentials(ctx.actor)),
  /**
   * The device's signaling session: the same frames the socket sends. It counts as the device's
   * signaling socket (presence, one per device: a newer socket or subscription ends it).
   */
  events: deviceProcedure.subscription(async function* ({ ctx, signal }) {
    const session = await ctx.services.calls.openSession(ctx.actor);
    const stop = () => session.close();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const frame of session.events()) yield frame as ServerCallFrame;
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }),
} satisfies TRPCRouterRecord;
