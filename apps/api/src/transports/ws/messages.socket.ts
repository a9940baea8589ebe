import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import type { Actor } from '../../domain/actor.js';
import { AppError, asAppError, isAppError, isDependencyOutage } from '../../domain/errors.js';
import { parseOrThrow } from '../../domain/validation.js';
import type { Metrics } from '../../observability/metrics.js';
import type { Services } from '../../services/index.js';
import { rawFrame } from '../../services/messaging/device-stream.js';
import { AckInput, AnySendInput, fastSendFrame, type SendInput } from '../../services/messaging/messaging.schemas.js';
import { bearerToken } from '../rest/auth.js';
import { frameSender } from './frame-writer.js';
import { frameWeight } from './frame-weight.js';

const HIGH_WATER_BYTES = 1024 * 1024;
const requestId = z.string().min(1).max(64);
// `ack` is strict like every write body (unknown fields are refused, not ignored: an ack frame with
// a stray field used to be dropped silently). `send` passes its body on to the strict send schema,
// which refuses unknown fields itself. `ping` writes nothing and stays lenient.
export const ClientFrame = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ack'), ids: AckInput.shape.ids }),
  z.object({ type: z.literal('send'), requestId }).passthrough(),
  z.object({ type: z.literal('ping') }),
]);

/** The requestId of a refused `send`, so the client can match the refusal to its request. */
function requestIdOf(data: RawData): string | undefined {
  if (!data.toString().includes('"requestId"')) return undefined;
  try {
    const rid = (JSON.parse(data.toString()) as { requestId?: unknown }).requestId;
    return typeof rid === 'string' && rid.length <= 64 ? rid : undefined;
  } catch {
    return undefined;
  }
}

function refusal(why: 'busy' | 'rate'): AppError {
  return why === 'busy'
    ? new AppError('RATE_LIMITED', 'too many frames in flight on this socket; wait for replies', { retryAfter: 1 }, 1)
    : new AppError('RATE_LIMITED', 'too many frames on this socket; slow down', { retryAfter: 1 }, 1);
}

/** Upgrade auth: `Authorization: Bearer` or, for browsers, `?token=`; failure is a 401 before upgrading. */
export function authenticateUpgrade(services: Services) {
  return async (req: FastifyRequest) => {
    const query = req.query as { token?: unknown };
    const token = bearerToken(req.headers.authorization) ?? (typeof query.token === 'string' ? query.token : undefined);
    req.actor = await services.accounts.authenticate(token);
  };
}

/** The message stream's upgrade: authenticated, and admitted by the per-device opening limit. */
function admitStreamUpgrade(services: Services) {
  const authenticate = authenticateUpgrade(services);
  return async (req: FastifyRequest) => {
    await authenticate(req);
    await services.messaging.admitStream(req.actor);
    // Last, so a refused upgrade holds no slot; the handler releases it when the socket closes.
    if (!services.connections.take(req.ip)) {
      throw new AppError('RATE_LIMITED', 'too many open connections from this address', { retryAfter: 10 }, 10);
    }
  };
}

export function errorFrame(e: unknown, reqId?: string) {
  const err = asAppError(e);
  return {
    type: 'error',
    code: err.code,
    message: err.message,
    ...(reqId ? { requestId: reqId } : {}),
    ...(err.code === 'RATE_LIMITED' ? { retryAfter: err.retryAfterS } : {}),
    ...(Object.keys(err.details).length ? { details: err.details } : {}),
  };
}

/** Heartbeat: a protocol ping every interval; two unanswered in a row and the peer is gone. */
export function keepAlive(socket: WebSocket, intervalS: number): () => void {
  let missed = 0;
  socket.on('pong', () => {
    missed = 0;
  });
  const timer = setInterval(() => {
    if (missed >= 2) {
      socket.terminate();
      return;
    }
    missed++;
    socket.ping();
  }, intervalS * 1000);
  return () => clearInterval(timer);
}

/** Resolves once the socket's send buffer is below the high-water mark (backpressure). */
async function drained(socket: WebSocket): Promise<void> {
  while (socket.bufferedAmount > HIGH_WATER_BYTES && socket.readyState === socket.OPEN) {
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function messagesSocket(services: Services, metrics: Metrics, pingIntervalS: number): FastifyPluginAsync {
  return async (app) => {
    app.get('/messages/stream', { websocket: true, preValidation: admitStreamUpgrade(services) }, (socket, req) => {
      const actor: Actor = req.actor;
      metrics.wsConnections.inc({ endpoint: 'messages' });
      const stopHeartbeat = keepAlive(socket, pingIntervalS);
      const { send, sendRaw } = frameSender(socket);
      const streamReady = services.messaging.openStream(actor, { admitted: true });

      const budget = services.messaging.connectionBudget();
      let cutOff = false;
      socket.on('message', (data, isBinary) => {
        // Admission comes first and costs no parsing: a refused frame is nearly free, so a flood
        // cannot buy CPU with frames the server then throws away.
        if (cutOff) return;
        const points = frameWeight(data);
        const admitted = budget.admit(points);
        if (admitted !== 'ok') {
          if (budget.exhausted) {
            cutOff = true;
            if (socket.readyState === socket.OPEN) socket.close(1008, 'too many frames');
            return;
          }
          send(errorFrame(refusal(admitted), isBinary ? undefined : requestIdOf(data)));
          return;
        }
        let frame: z.infer<typeof ClientFrame>;
        // The common send frame skips zod (fastSendFrame accepts exactly what the schemas do).
        let fast: { requestId: string; input: SendInput } | undefined;
        try {
          if (isBinary) throw new AppError('VALIDATION_FAILED', 'frames are JSON text');
          let json: unknown;
          try {
            json = JSON.parse(data.toString());
          } catch {
            throw new AppError('VALIDATION_FAILED', 'frame is not valid JSON');
          }
          fast = fastSendFrame(json);
          frame = fast ? { type: 'send', requestId: fast.requestId } : parseOrThrow(ClientFrame, json);
        } catch (e) {
          budget.done(points);
          send(errorFrame(e));
          return;
        }
        if (frame.type === 'ping') {
          budget.done(points);
          send({ type: 'pong' });
          return;
        }
        void (async () => {
          try {
            if (frame.type === 'ack') {
              try {
                await services.messaging.ack(actor, frame.ids);
              } catch (e) {
                if (!isAppError(e) && !isDependencyOutage(e)) req.log.error({ err: e }, 'ws ack failed');
                send(errorFrame(e));
              }
              return;
            }
            const { type: _t, requestId: rid, ...body } = frame;
            try {
              const input = fast ? fast.input : parseOrThrow(AnySendInput, body);
              const reply = await services.messaging.send(actor, input);
              send({ type: 'send.result', requestId: rid, ...reply });
            } catch (e) {
              if (!isAppError(e) && !isDependencyOutage(e)) req.log.error({ err: e }, 'ws send failed');
              send(errorFrame(e, rid));
            }
          } finally {
            budget.done(points);
          }
        })();
      });

      socket.on('close', () => {
        services.connections.release(req.ip);
        stopHeartbeat();
        void budget.release();
        metrics.wsConnections.dec({ endpoint: 'messages' });
        void streamReady.then(
          (s) => s.close(),
          () => {},
        );
      });

      void (async () => {
        try {
          const stream = await streamReady;
          for await (const event of stream.events()) {
            if (socket.readyState !== socket.OPEN) break;
            // A pushed envelope comes with its frame already serialised (once, by the sending node).
            const raw = rawFrame(event);
            if (raw !== undefined) sendRaw(raw);
            else send(event);
            if (socket.bufferedAmount > HIGH_WATER_BYTES) await drained(socket);
          }
          const end = stream.ended;
          if (end && socket.readyState === socket.OPEN) socket.close(end.closeCode, end.reason);
        } catch (e) {
          if (isAppError(e) && socket.readyState === socket.OPEN) {
            // e.g. RATE_LIMITED: the client learns why, then the socket closes as a policy matter.
            send(errorFrame(e));
            socket.close(1008, e.code === 'RATE_LIMITED' ? 'too many connections' : e.code);
            return;
          }
          req.log.error({ err: e }, 'message stream failed');
          if (socket.readyState === socket.OPEN) socket.close(1011, 'internal error');
        }
      })();
    });
  };
}
