import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * Sends JSON frames with the TCP socket corked until the end of the event-loop turn, so all frames
 * produced in one turn (a batch of pushed envelopes, the replies of one group commit) leave in one
 * write instead of one syscall each.
 */
export function frameSender(socket: WebSocket): { send: (frame: object) => void; sendRaw: (json: string) => void } {
  const raw = (socket as unknown as { _socket?: Socket })._socket;
  let corked = false;
  const sendRaw = (json: string) => {
    if (socket.readyState !== socket.OPEN) return;
    if (raw && !corked && !raw.destroyed) {
      corked = true;
      raw.cork();
      setImmediate(() => {
        corked = false;
        raw.uncork();
      });
    }
    socket.send(json);
  };
  return { send: (frame) => sendRaw(JSON.stringify(frame)), sendRaw };
}
