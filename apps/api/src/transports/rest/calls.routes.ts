import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  AnswerInput,
  CallParams,
  CallView,
  HangupInput,
  HistoryQuery,
  HistoryReply,
  IceInput,
  OfferInput,
  OfferReply,
  TurnReply,
} from '../../services/calls/calls.schemas.js';
import type { Services } from '../../services/index.js';
import { AUTH_ERRORS, BEARER, BODY_ERRORS, NoContent, withErrors } from './responses.js';

const tags = ['calls'];

/** REST equivalents of the signaling frames: the same call engine, the peer receives on its socket. */
export function callsRoutes(services: Services): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      '/calls/offer',
      {
        schema: {
          tags,
          operationId: 'callOffer',
          summary: "Place a call: rings the callee's online devices",
          security: BEARER,
          body: OfferInput,
          response: withErrors({ 201: OfferReply }, [...BODY_ERRORS, ...AUTH_ERRORS, 404, 409, 429]),
        },
      },
      async (req, reply) => {
        const { calleeId, ...rest } = req.body;
        const r = await services.calls.offer(req.actor, { ...rest, to: calleeId });
        return reply.status(201).send(r);
      },
    );
    app.post(
      '/calls/answer',
      {
        schema: {
          tags,
          operationId: 'callAnswer',
          summary: 'Answer a ringing call (the first answer wins)',
          security: BEARER,
          body: AnswerInput,
          response: withErrors({ 204: NoContent }, [...BODY_ERRORS, ...AUTH_ERRORS, 404, 409]),
        },
      },
      async (req, reply) => {
        await services.calls.answer(req.actor, req.body.callId, req.body.sdp);
        return reply.status(204).send();
      },
    );
    app.post(
      '/calls/ice',
      {
        schema: {
          tags,
          operationId: 'callIce',
          summary: 'Relay ICE candidates to the other party',
          security: BEARER,
          body: IceInput,
          response: withErrors({ 204: NoContent }, [...BODY_ERRORS, ...AUTH_ERRORS, 404, 409]),
        },
      },
      async (req, reply) => {
        await services.calls.ice(req.actor, req.body.callId, req.body.candidates);
        return reply.status(204).send();
      },
    );
    app.post(
      '/calls/hangup',
      {
        schema: {
          tags,
          operationId: 'callHangup',
          summary: 'End a call (or decline a ringing one with reason reject/busy)',
          security: BEARER,
          body: HangupInput,
          response: withErrors({ 204: NoContent }, [...BODY_ERRORS, ...AUTH_ERRORS, 404, 409]),
        },
      },
      async (req, reply) => {
        await services.calls.hangup(req.actor, req.body.callId, req.body.reason);
        return reply.status(204).send();
      },
    );
    app.get(
      '/calls/turn',
      {
        schema: {
          tags,
          operationId: 'turnCredentials',
          summary: 'Time-limited TURN credentials (coturn use-auth-secret)',
          security: BEARER,
          response: withErrors({ 200: TurnReply }, [...AUTH_ERRORS]),
        },
      },
      (req) => services.calls.turnCredentials(req.actor),
    );
    app.get(
      '/calls',
      {
        schema: {
          tags,
          operationId: 'callHistory',
          summary: "The caller's own calls, newest first",
          security: BEARER,
          querystring: HistoryQuery,
          response: withErrors({ 200: HistoryReply }, [400, ...AUTH_ERRORS]),
        },
      },
      (req) => services.calls.history(req.actor, req.query.cursor, req.query.limit),
    );
    app.get(
      '/calls/:callId',
      {
        schema: {
          tags,
          operationId: 'getCall',
          summary: 'One call record (for its parties)',
          security: BEARER,
          params: CallParams,
          response: withErrors({ 200: CallView }, [400, ...AUTH_ERRORS, 404]),
        },
      },
      (req) => services.calls.get(req.actor, req.params.callId),
    );
  };
}
