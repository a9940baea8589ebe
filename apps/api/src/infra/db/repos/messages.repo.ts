import type { PrismaClient } from '@snaptalker/db';
import type { MessageStatus } from '../../../services/messaging/messaging.schemas.js';

type Bytes = Uint8Array<ArrayBuffer>;

export interface EnvelopeRow {
  id: string;
  seq: bigint;
  senderId: string;
  senderDeviceId: number;
  recipientId: string;
  recipientDeviceId: number;
  type: 'prekey' | 'message' | 'receipt';
  content: Bytes | null;
  iv: Bytes | null;
  messageNumber: number | null;
  clientMessageId: string | null;
  status: MessageStatus;
  timestamp: Date;
}

export type NewEnvelope = Omit<EnvelopeRow, 'seq' | 'status' | 'timestamp'>;

const envelopeSelect = {
  id: true,
  seq: true,
  senderId: true,
  senderDeviceId: true,
  recipientId: true,
  recipientDeviceId: true,
  type: true,
  content: true,
  iv: true,
  messageNumber: true,
  clientMessageId: true,
  status: true,
  timestamp: true,
} as const;

export interface StatusChange {
  id: string;
  senderId: string;
  status: MessageStatus;
  timestamp: Date;
}

export class MessagesRepo {
  constructor(private readonly prisma: PrismaClient) {}

  async userExists(userId: string): Promise<boolean> {
    return (await this.prisma.user.count({ where: { id: userId, verified: true } })) > 0;
  }

  registeredDevices(userId: string): Promise<Array<{ deviceId: number; registrationId: number | null }>> {
    return this.prisma.device.findMany({
      where: { userId, registrationId: { not: null } },
      select: { deviceId: true, registrationId: true },
      orderBy: { deviceId: 'asc' },
    });
  }

  async previousReply(senderId: string, clientMessageId: string): Promise<unknown | null> {
    const s = await this.prisma.messageSend.findUnique({
      where: { senderId_clientMessageId: { senderId, clientMessageId } },
      select: { reply: true },
    });
    return s?.reply ?? null;
  }

  /**
   * Stores one send durably, in ONE statement (one round trip, atomic). With a clientMessageId the
   * unique (sender, client_message_id) row is claimed in the same statement: a concurrent or repeated
   * send finds it taken, inserts no envelope, and gets the first reply back.
   */
  async storeSend(
    sender: { userId: string; deviceId: number },
    recipientId: string,
    clientMessageId: string | undefined,
    reply: object,
    envelopes: NewEnvelope[],
  ): Promise<{ duplicateOf: unknown } | { seqs: Map<number, bigint> }> {
    const cmid = clientMessageId ?? null;
    const b64 = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('base64'));
    const rows = await this.prisma.$queryRaw<Array<{ seq: bigint; deviceId: number }>>`
      WITH claim AS (
        INSERT INTO message_sends (id, sender_id, client_message_id, reply, created_at)
        SELECT gen_random_uuid(), ${sender.userId}::uuid, ${cmid}::uuid, ${JSON.stringify(reply)}::jsonb, now()
        WHERE ${cmid}::uuid IS NOT NULL
        ON CONFLICT (sender_id, client_message_id) DO NOTHING
        RETURNING id
      ), ins AS (
        INSERT INTO messages (id, sender_id, sender_device_id, recipient_id, recipient_device_id, type,
                              encrypted_content, iv, message_number, client_message_id)
        SELECT e.id::uuid, ${sender.userId}::uuid, ${sender.deviceId}::int, ${recipientId}::uuid, e.dev, e.type::message_type,
               decode(e.content, 'base64'), decode(e.iv, 'base64'), e.num, ${cmid}::uuid
        FROM unnest(${envelopes.map((e) => e.id)}::text[], ${envelopes.map((e) => e.recipientDeviceId)}::int[],
                    ${envelopes.map((e) => e.type)}::text[], ${envelopes.map((e) => b64(e.content))}::text[],
                    ${envelopes.map((e) => b64(e.iv))}::text[], ${envelopes.map((e) => e.messageNumber)}::int[])
             AS e(id, dev, type, content, iv, num)
        WHERE ${cmid}::uuid IS NULL OR EXISTS (SELECT 1 FROM claim)
        RETURNING seq, recipient_device_id
      )
      SELECT seq, recipient_device_id AS "deviceId" FROM ins`;
    if (rows.length === 0) {
      return { duplicateOf: cmid ? await this.previousReply(sender.userId, cmid) : null };
    }
    const seqs = new Map<number, bigint>();
    for (const r of rows) {
      const prev = seqs.get(r.deviceId);
      if (prev === undefined || r.seq < prev) seqs.set(r.deviceId, r.seq);
    }
    return { seqs };
  }

  /** Undelivered envelopes of one device with seq > after, oldest first. */
  queue(userId: string, deviceId: number, afterSeq: bigint, limit: number): Promise<EnvelopeRow[]> {
    return this.prisma.message.findMany({
      where: { recipientId: userId, recipientDeviceId: deviceId, status: 'sent', seq: { gt: afterSeq } },
      orderBy: { seq: 'asc' },
      take: limit,
      select: envelopeSelect,
    });
  }

  queueDepth(): Promise<number> {
    return this.prisma.message.count({ where: { status: 'sent' } });
  }

  /** Marks the device's own undelivered envelopes delivered; others' or unknown ids are ignored. */
  async ack(userId: string, deviceId: number, ids: string[]): Promise<StatusChange[]> {
    if (ids.length === 0) return [];
    return this.prisma.$queryRaw<StatusChange[]>`
      UPDATE messages SET status = 'delivered', delivered_at = now()
      WHERE id = ANY(${ids}::uuid[]) AND recipient_id = ${userId}::uuid AND recipient_device_id = ${deviceId}
        AND status = 'sent'
      RETURNING id, sender_id AS "senderId", status::text AS status, timestamp`;
  }

  /** Moves the status forward only (enum order sent < delivered < read); null if not moved. */
  async advance(
    id: string,
    userId: string,
    deviceId: number,
    status: 'delivered' | 'read',
  ): Promise<StatusChange | null> {
    const rows = await this.prisma.$queryRaw<StatusChange[]>`
      UPDATE messages SET status = ${status}::message_status,
        delivered_at = COALESCE(delivered_at, now()),
        read_at = CASE WHEN ${status} = 'read' THEN now() ELSE read_at END
      WHERE id = ${id}::uuid AND recipient_id = ${userId}::uuid AND recipient_device_id = ${deviceId}
        AND status < ${status}::message_status
      RETURNING id, sender_id AS "senderId", status::text AS status, timestamp`;
    return rows[0] ?? null;
  }

  findForStatus(id: string) {
    return this.prisma.message.findUnique({
      where: { id },
      select: { recipientId: true, recipientDeviceId: true, status: true },
    });
  }

  /** Both directions of a conversation as one device sees it, newest first, paged by seq. */
  conversation(
    me: string,
    myDevice: number,
    other: string,
    beforeSeq: bigint | null,
    limit: number,
  ): Promise<EnvelopeRow[]> {
    const seq = beforeSeq === null ? {} : { seq: { lt: beforeSeq } };
    return this.prisma.message.findMany({
      where: {
        ...seq,
        OR: [
          { recipientId: me, recipientDeviceId: myDevice, senderId: other },
          { senderId: me, recipientId: other },
        ],
      },
      orderBy: { seq: 'desc' },
      take: limit,
      select: envelopeSelect,
    });
  }

  /** Retention, in bounded batches: content of old delivered envelopes, and expired undelivered ones. */
  async purge(
    deliveredBefore: Date,
    undeliveredBefore: Date,
    batch: number,
  ): Promise<{ delivered: number; expired: number }> {
    const delivered = await this.prisma.$executeRaw`
      DELETE FROM messages WHERE id IN (
        SELECT id FROM messages WHERE status <> 'sent' AND delivered_at < ${deliveredBefore} LIMIT ${batch})`;
    const expired = await this.prisma.$executeRaw`
      DELETE FROM messages WHERE id IN (
        SELECT id FROM messages WHERE status = 'sent' AND timestamp < ${undeliveredBefore} LIMIT ${batch})`;
    await this.prisma.$executeRaw`
      DELETE FROM message_sends WHERE id IN (
        SELECT id FROM message_sends WHERE created_at < ${undeliveredBefore} LIMIT ${batch})`;
    return { delivered, expired };
  }
}
