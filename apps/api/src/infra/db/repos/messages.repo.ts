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
   * Stores one send durably. With a clientMessageId the unique (sender, client_message_id) row is
   * claimed first in the same transaction: a concurrent or repeated send finds it taken and gets
   * the first reply back, storing nothing.
   */
  async storeSend(
    senderId: string,
    clientMessageId: string | undefined,
    reply: object,
    envelopes: NewEnvelope[],
  ): Promise<{ duplicateOf: unknown } | { seqs: Map<number, bigint> }> {
    return this.prisma.$transaction(async (tx) => {
      if (clientMessageId) {
        const claimed = await tx.$queryRaw<Array<{ id: string }>>`
          INSERT INTO message_sends (id, sender_id, client_message_id, reply, created_at)
          VALUES (gen_random_uuid(), ${senderId}::uuid, ${clientMessageId}::uuid, ${JSON.stringify(reply)}::jsonb, now())
          ON CONFLICT (sender_id, client_message_id) DO NOTHING
          RETURNING id`;
        if (claimed.length === 0) {
          const prev = await tx.messageSend.findUnique({
            where: { senderId_clientMessageId: { senderId, clientMessageId } },
            select: { reply: true },
          });
          return { duplicateOf: prev?.reply };
        }
      }
      const rows = await tx.message.createManyAndReturn({
        data: envelopes,
        select: { seq: true, recipientDeviceId: true },
      });
      const seqs = new Map<number, bigint>();
      for (const r of rows) {
        const prev = seqs.get(r.recipientDeviceId);
        if (prev === undefined || r.seq < prev) seqs.set(r.recipientDeviceId, r.seq);
      }
      return { seqs };
    });
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
