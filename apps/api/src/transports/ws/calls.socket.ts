import type { FastifyPluginAsync } from 'fastify';
import type { Actor } from '../../domain/actor.js';
import { AppError, isAppError } from '../../domain/errors.js';
import { parseOrThrow } from '../../domain/validation.js';
import type { Metrics } from '../../observability/metrics.js';
import { ClientCallFrame, type ServerCallFrame } from '../../services/calls/calls.schemas.js';
import { dispatchCallFrame } from '../../services/calls/dispatch.js';
import type { Services } from '../../services/index.js';
import { authenticateUpgrade, errorFrame, keepAlive } from './messages.socket.js';
import { frameWeight } from './frame-weight.js';

/** The callId of a refused frame (when it has one), so the client can tell which call it concerns. */
function callIdOf(json: unknown): string | undefined {
  const id = (json as { callId?: unknown } | null)?.callId;
  return typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id) ? id : undefined;
}

/**
 * `GET /api/v1/calls/signal`: the device's signaling socket. Thin: authenticate the upgrade (header or
 * `?token=`), open the engine's session for the device (one per device across nodes, 4409 on a newer
 * one), forward its frames, and hand every client frame to the call engine; refusals are error frames
 * carrying the callId, and nothing is relayed.
 */
export function callsSocket(services: Services, metrics: Metrics, pingIntervalS: number): FastifyPluginAsync {
  return async (app) => {
    const authenticate = authenticateUpgrade(services);
    app.get(
      '/calls/signal',
      {
        websocket: true,
        preValidation: async (req) => {
          await authenticate(req);
          await services.messaging.admitStream(req.actor);
        },
      },
      (socket, req) => {
        const actor: Actor = req.actor;
        metrics.wsConnections.inc({ endpoint: 'calls' });
        const stopHeartbeat = keepAlive(socket, pingIntervalS);
        const send = (frame: object) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame));
        };
        const sessionReady = services.calls.openSession(actor);
        socket.on('pong', () => {
          void sessionReady.then(
            (s) => s.touch(),
            () => {},
          );
        });

        const budget = services.messaging.connectionBudget();
        let cutOff = false;
        // Frames of one socket are handled in order: an `ice` sent right after its `offer` must not
        // overtake it (the call would not exist yet).
        let queue: Promise<void> = Promise.resolve();
        socket.on('message', (data, isBinary) => {
          if (cutOff) return;
          const points = frameWeight(data);
          // Admitted on arrival (the in-flight bound is checked synchronously, so the queue stays
          // bounded), handled in order.
          const admission = budget.admit(points);
          queue = queue.then(async () => {
            if (cutOff) return;
            const admitted = await admission;
            if (admitted !== 'ok') {
              if (budget.exhausted) {
                cutOff = true;
                if (socket.readyState === socket.OPEN) socket.close(1008, 'too many frames');
                return;
              }
              send(
                errorFrame(
                  new AppError('RATE_LIMITED', 'too many frames on this socket; slow down', { retryAfter: 1 }, 1),
                ),
              );
              return;
            }
            let callId: string | undefined;
            try {
              if (isBinary) throw new AppError('VALIDATION_FAILED', 'frames are JSON text');
              let json: unknown;
              try {
                json = JSON.parse(data.toString());
              } catch {
                throw new AppError('VALIDATION_FAILED', 'frame is not valid JSON');
              }
              callId = callIdOf(json);
              const frame = parseOrThrow(ClientCallFrame, json);
              // After the session is open: a `pong` tells the client it can be rung.
              await sessionReady;
              if (frame.type === 'ping') return send({ type: 'pong' } satisfies ServerCallFrame);
              await dispatchCallFrame(services.calls, actor, frame);
            } catch (e) {
              if (!isAppError(e)) req.log.error({ err: e }, 'call frame failed');
              send({ ...errorFrame(e), ...(callId ? { callId } : {}) });
            } finally {
              budget.done(points);
            }
          });
        });

        socket.on('close', () => {
          stopHeartbeat();
          void budget.release();
          metrics.wsConnections.dec({ endpoint: 'calls' });
          void sessionReady.then(
            (s) => s.close(),
            () => {},
          );
        });

        void (async () => {
          try {
            const session = await sessionReady;
            if (socket.readyState !== socket.OPEN) return session.close();
            for await (const frame of session.events()) {
              if (socket.readyState !== socket.OPEN) break;
              send(frame);
            }
            const end = session.ended;
            if (end && end.closeCode >= 4000 && socket.readyState === socket.OPEN)
              socket.close(end.closeCode, end.reason);
          } catch (e) {
            req.log.error({ err: e }, 'signaling session failed');
            if (socket.readyState === socket.OPEN) socket.close(1011, 'internal error');
          }
        })();
      },
    );
  };
}
