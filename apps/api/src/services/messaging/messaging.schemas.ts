import { z } from 'zod';
import { base64, base64Bytes, base64Out, deviceIdOut, timestamp, uuid } from '../../domain/schemas.js';

export const MAX_CONTENT_BYTES = 256 * 1024;

// Not empty: '' is valid base64 of zero bytes, but no Signal message is empty, and an envelope
// without ciphertext was stored and delivered as if it were one (found by the WebSocket fuzz).
// The size is the arithmetic of padded base64 (the regex admits nothing else), not a decode.
const content = base64
  .min(1, 'must not be empty')
  .refine((s) => base64Bytes(s) <= MAX_CONTENT_BYTES, 'must be at most 256 KiB decoded');

export const OutgoingEnvelope = z.strictObject({
  deviceId: z.number().int().min(1).max(2_147_483_647),
  registrationId: z.number().int().min(1).max(16_380),
  type: z.enum(['prekey', 'message', 'receipt']),
  content,
  iv: base64.max(1024).nullable().optional(),
  messageNumber: z.number().int().min(0).max(2_147_483_647).nullable().optional(),
});

export const SendInput = z.strictObject({
  recipientId: uuid,
  clientMessageId: uuid.optional(),
  messages: z.array(OutgoingEnvelope).min(1).max(1000),
});

/** The seed's single-device form, still accepted when the recipient has exactly one registered device. */
export const ShorthandSendInput = z.strictObject({
  recipientId: uuid,
  clientMessageId: uuid.optional(),
  encryptedContent: content,
  iv: base64.max(1024).nullable().optional(),
  messageNumber: z.number().int().min(0).max(2_147_483_647).nullable().optional(),
});

export const AnySendInput = z.union([SendInput, ShorthandSendInput]);

export const AckInput = z.strictObject({ ids: z.array(z.string().max(64)).max(1000, 'at most 1000 ids') });
export const QueueQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(100) });
export const ConversationParams = z.strictObject({ chatId: uuid });
export const ConversationQuery = z.strictObject({
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export const StatusParams = z.strictObject({ id: uuid });
export const StatusInput = z.strictObject({ status: z.enum(['delivered', 'read']) });

export type SendInput = z.infer<typeof SendInput>;
export type ShorthandSendInput = z.infer<typeof ShorthandSendInput>;
export type AnySendInput = z.infer<typeof AnySendInput>;

// Replies (the REST response schemas; the OpenAPI document is generated from them).

export const MessageStatusSchema = z.enum(['sent', 'delivered', 'read']);
export type MessageStatus = z.infer<typeof MessageStatusSchema>;

export const SendReply = z.object({
  messages: z.array(z.object({ deviceId: deviceIdOut, messageId: uuid })),
  serverTimestamp: timestamp,
});
export type SendReply = z.infer<typeof SendReply>;

/** An envelope as every transport delivers it. */
export const EnvelopeSchema = z
  .object({
    id: uuid,
    senderId: uuid,
    senderDeviceId: deviceIdOut,
    recipientId: uuid,
    recipientDeviceId: deviceIdOut,
    type: z.enum(['prekey', 'message', 'receipt']),
    content: base64Out
      .nullable()
      .meta({ description: 'opaque ciphertext; null on envelopes listed to their sender (conversation history)' }),
    iv: base64Out.nullable(),
    messageNumber: z.number().int().nullable(),
    clientMessageId: uuid.nullable(),
    status: MessageStatusSchema,
    serverTimestamp: timestamp,
  })
  .meta({ id: 'Envelope' });
export type Envelope = z.infer<typeof EnvelopeSchema>;

export const QueueReply = z.object({
  messages: z
    .array(EnvelopeSchema)
    .meta({ description: "undelivered envelopes for the caller's device, oldest first" }),
  more: z.boolean(),
});
export const ConversationReply = z.object({
  messages: z.array(EnvelopeSchema).meta({ description: 'newest first' }),
  nextCursor: z.string().nullable().meta({ description: 'pages towards older envelopes; null at the end' }),
});
export const StatusReply = z.object({ id: uuid, status: MessageStatusSchema });
export type QueueReply = z.infer<typeof QueueReply>;
export type ConversationReply = z.infer<typeof ConversationReply>;
export type StatusReply = z.infer<typeof StatusReply>;

/** What every live transport (WebSocket, tRPC subscription, gRPC stream) delivers, in order. */
export type StreamEvent =
  | { type: 'message'; envelope: Envelope }
  | { type: 'queue.empty' }
  | { type: 'message.status'; id: string; status: MessageStatus; at: string }
  | { type: 'keys.low'; preKeyCount: number; kyberPreKeyCount: number };

/** Why a live stream ends: the socket closes with this code. */
export interface StreamEnd {
  closeCode: 4401 | 4403 | 4409;
  reason: string;
}
