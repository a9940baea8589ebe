import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { isAuthenticatedSocket } from './trpc.js';

/**
 * A tRPC WebSocket is accepted before it says who it is (the token may come later, in
 * connectionParams). One that has not authenticated a device within `timeoutMs` is closed with 1008,
 * so unauthenticated sockets cannot pile up and hold file descriptors and memory.
 */
export function trpcAuthDeadline(app: FastifyInstance, prefix: string, timeoutMs: number): void {
  app.websocketServer.on('connection', (socket: WebSocket, req: { url?: string }) => {
    if (!req.url?.startsWith(prefix)) return;
    const timer = setTimeout(() => {
      if (socket.readyState === socket.OPEN && !isAuthenticatedSocket(socket)) {
        socket.close(1008, 'not authenticated in time');
      }
    }, timeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
