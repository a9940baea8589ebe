import type { Actor } from '../../domain/actor.js';
import type { ClientCallFrame } from './calls.schemas.js';
import type { CallsService } from './calls.service.js';

/** One client signaling frame into the engine: the socket and tRPC's `calls.signal` share it. */
export async function dispatchCallFrame(
  calls: CallsService,
  actor: Actor,
  frame: Exclude<ClientCallFrame, { type: 'ping' }>,
): Promise<void> {
  switch (frame.type) {
    case 'offer':
      await calls.offer(actor, { callId: frame.callId, to: frame.to, sdp: frame.sdp, media: frame.media });
      return;
    case 'answer':
      return calls.answer(actor, frame.callId, frame.sdp);
    case 'ice':
      return calls.ice(actor, frame.callId, [frame.candidate]);
    case 'ringing':
      return calls.ringing(actor, frame.callId);
    case 'reject':
    case 'busy':
      return calls.decline(actor, frame.callId, frame.type);
    case 'hangup':
      return calls.hangup(actor, frame.callId);
  }
}
