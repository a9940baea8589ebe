import type { EnvelopeRow } from '../../infra/db/repos/messages.repo.js';
import type { Envelope } from './messaging.schemas.js';

const b64 = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('base64'));

export function toEnvelope(r: EnvelopeRow, withContent = true): Envelope {
  return {
    id: r.id,
    senderId: r.senderId,
    senderDeviceId: r.senderDeviceId,
    recipientId: r.recipientId,
    recipientDeviceId: r.recipientDeviceId,
    type: r.type,
    content: withContent ? b64(r.content) : null,
    iv: b64(r.iv),
    messageNumber: r.messageNumber,
    clientMessageId: r.clientMessageId,
    status: r.status,
    serverTimestamp: r.timestamp.toISOString(),
  };
}

/** Opaque cursors: base64url of the server sequence number. */
export const encodeCursor = (seq: bigint) => Buffer.from(`s:${seq}`).toString('base64url');

export function decodeCursor(cursor: string): bigint | null {
  const m = /^s:(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString());
  return m?.[1] ? BigInt(m[1]) : null;
}
