import { z } from 'zod';
import {
  BASE64_MAX_CHARS,
  BASE64_RE,
  base64,
  base64Bytes,
  base64Out,
  deviceIdOut,
  timestamp,
  UUID_RE,
  uuid,
} from '../../domain/schemas.js';

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

const ENVELOPE_TYPES: ReadonlySet<unknown> = new Set(['prekey', 'message', 'receipt']);
const FRAME_KEYS: ReadonlySet<string> = new Set(['type', 'requestId', 'recipientId', 'clientMessageId', 'messages']);
const ENVELOPE_KEYS: ReadonlySet<string> = new Set([
  'deviceId',
  'registrationId',
  'type',
  'content',
  'iv',
  'messageNumber',
]);
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
const intIn = (v: unknown, min: number, max: number) =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const isUuid = (v: unknown) => typeof v === 'string' && UUID_RE.test(v);
const isBase64 = (v: unknown, maxChars: number): v is string =>
  typeof v === 'string' && v.length <= maxChars && BASE64_RE.test(v);
const onlyKeys = (o: Record<string, unknown>, allowed: ReadonlySet<string>) => {
  for (const k in o) if (!allowed.has(k)) return false;
  return true;
};

/**
 * The WebSocket `send` frame of the hot path, checked by hand: it accepts exactly what
 * `{type:'send', requestId}` + `SendInput` accept (a property test holds it to the zod schemas) and
 * returns the same values — the parsed JSON itself, no copies — or undefined for anything else
 * (the shorthand form, any doubt, any error), which then goes through zod, whose errors are the
 * contract's. zod's object copies and union attempts were a tenth of the API's CPU per message.
 */
export function fastSendFrame(json: unknown): { requestId: string; input: SendInput } | undefined {
  if (!isPlainObject(json) || json.type !== 'send' || !onlyKeys(json, FRAME_KEYS)) return undefined;
  const { requestId, recipientId, clientMessageId, messages } = json;
  if (typeof requestId !== 'string' || requestId.length < 1 || requestId.length > 64) return undefined;
  if (!isUuid(recipientId) || ('clientMessageId' in json && !isUuid(clientMessageId))) return undefined;
  if (!Array.isArray(messages) || messages.length < 1 || messages.length > 1000) return undefined;
  for (const m of messages as unknown[]) {
    if (!isPlainObject(m) || !onlyKeys(m, ENVELOPE_KEYS)) return undefined;
    if (!intIn(m.deviceId, 1, 2_147_483_647) || !intIn(m.registrationId, 1, 16_380)) return undefined;
    if (!ENVELOPE_TYPES.has(m.type)) return undefined;
    const c = m.content;
    if (!isBase64(c, BASE64_MAX_CHARS) || c.length === 0 || base64Bytes(c) > MAX_CONTENT_BYTES) return undefined;
    if ('iv' in m && m.iv !== null && !isBase64(m.iv, 1024)) return undefined;
    if ('messageNumber' in m && m.messageNumber !== null && !intIn(m.messageNumber, 0, 2_147_483_647)) return undefined;
  }
  const input = (
    'clientMessageId' in json ? { recipientId, clientMessageId, messages } : { recipientId, messages }
  ) as SendInput;
  return { requestId, input };
}

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
