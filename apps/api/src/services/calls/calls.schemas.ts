import { z } from 'zod';
import { timestamp, uuid } from '../../domain/schemas.js';

/** SDP and ICE candidates are opaque to the server (clients may encrypt them): only their size is checked. */
export const MAX_PAYLOAD_CHARS = 64 * 1024;
const payload = z.string().min(1).max(MAX_PAYLOAD_CHARS, 'at most 64 KiB');
export const CallMediaSchema = z.enum(['audio', 'video']);

export const END_REASONS = [
  'hangup',
  'reject',
  'busy',
  'unavailable',
  'timeout',
  'glare',
  'answered-elsewhere',
  'disconnected',
] as const;
export type EndReason = (typeof END_REASONS)[number];

/** Frames a client sends on the signaling socket (and through tRPC's `calls.signal`). */
export const ClientCallFrame = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('offer'), callId: uuid, to: uuid, sdp: payload, media: CallMediaSchema }),
  z.strictObject({ type: z.literal('answer'), callId: uuid, sdp: payload }),
  z.strictObject({ type: z.literal('ice'), callId: uuid, candidate: payload }),
  z.strictObject({ type: z.enum(['ringing', 'reject', 'busy', 'hangup']), callId: uuid }),
  z.strictObject({ type: z.literal('ping') }),
]);
export type ClientCallFrame = z.infer<typeof ClientCallFrame>;

export interface From {
  userId: string;
  deviceId: number;
}

/** Frames the server sends on the signaling socket (and the tRPC subscription). */
export type ServerCallFrame =
  | { type: 'offer'; callId: string; sdp: string; media: 'audio' | 'video'; from: From }
  | { type: 'answer'; callId: string; sdp: string; from: From }
  | { type: 'ice'; callId: string; candidate: string; from: From }
  | { type: 'ringing' | 'reject' | 'busy'; callId: string; from: From }
  | { type: 'busy' | 'unavailable' | 'answered-elsewhere'; callId: string }
  | { type: 'hangup'; callId: string; reason: EndReason; from?: From }
  | { type: 'error'; code: string; message: string; callId?: string }
  | { type: 'pong' };

export const OfferInput = z.strictObject({
  calleeId: uuid,
  callId: uuid.optional(),
  sdp: payload,
  media: CallMediaSchema,
});
export const OfferReply = z.object({ callId: uuid });
export const AnswerInput = z.strictObject({ callId: uuid, sdp: payload });
export const IceInput = z.strictObject({ callId: uuid, candidates: z.array(payload).min(1).max(100) });
/** `reject`/`busy` decline a ringing call from a callee device; `hangup` (default) ends it. */
export const HangupInput = z.strictObject({ callId: uuid, reason: z.enum(['hangup', 'reject', 'busy']).optional() });
export const CallParams = z.strictObject({ callId: uuid });

export const CallView = z
  .object({
    callId: uuid,
    callerId: uuid,
    calleeId: uuid,
    media: CallMediaSchema,
    state: z.enum(['ringing', 'connected', 'ended']),
    startedAt: timestamp,
    answeredAt: timestamp.nullable(),
    endedAt: timestamp.nullable(),
    endReason: z.enum(END_REASONS).nullable(),
  })
  .meta({ id: 'Call' });
export type CallView = z.infer<typeof CallView>;

export const HistoryQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).max(200).optional(),
});
export const HistoryReply = z.object({ calls: z.array(CallView), nextCursor: z.string().nullable() });
export type HistoryReply = z.infer<typeof HistoryReply>;

export const TurnReply = z.object({
  urls: z.array(z.string()),
  username: z.string(),
  credential: z.string(),
  ttl: z.number().int(),
});
export type TurnReply = z.infer<typeof TurnReply>;
