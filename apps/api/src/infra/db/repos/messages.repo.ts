import type { PrismaClient } from '@snaptalker/db';
import type { MessageStatus } from '../../../services/messaging/messaging.schemas.js';
import { plainArray, quotedArray, type Sql } from '../sql.js';

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

/**
 * An envelope to store. Content and iv are the client's base64 text (already checked to be standard,
 * padded base64): PostgreSQL decodes them in the insert, so the hot path neither decodes them into
 * buffers nor re-encodes those as the hex text of a bytea[] parameter.
 */
export type NewEnvelope = Omit<EnvelopeRow, 'seq' | 'status' | 'timestamp' | 'content' | 'iv'> & {
  content: string | null;
  iv: string | null;
};

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

/** One send of a group commit: its idempotency claim (if any), its reply and its envelopes. */
export interface BatchedSend {
  senderId: string;
  clientMessageId: string | null;
  reply: object;
  envelopes: NewEnvelope[];
}

/**
 * What a committed batch stored: per send, its envelopes' seqs, or null for a repeat; and the
 * batch's server timestamp (ISO-8601), which every envelope of the batch carries.
 */
export interface BatchResult {
  timestamp: string;
  sends: Array<Map<string, bigint> | null>;
}

/** A status change made by an ack, with the device that acknowledged and when the envelope was stored (ms). */
export type AckChange = Omit<StatusChange, 'timestamp'> & {
  recipientId: string;
  recipientDeviceId: number;
  storedAtMs: number;
};

/** One acknowledgement of a batch: an envelope id and the device that acknowledges it. */
export interface AckItem {
  id: string;
  userId: string;
  deviceId: number;
}

// The hot-path statements, prepared once per connection (see Sql).
const STORE_BATCH = `
  WITH s AS (
    SELECT * FROM unnest($1::int[], $2::uuid[], $3::uuid[], $4::jsonb[]) AS s(idx, sender, cmid, reply)
  ), claim AS (
    INSERT INTO message_sends (id, sender_id, client_message_id, reply, created_at)
    SELECT gen_random_uuid(), s.sender, s.cmid, s.reply, now() FROM s WHERE s.cmid IS NOT NULL
    ON CONFLICT (sender_id, client_message_id) DO NOTHING
    RETURNING sender_id, client_message_id
  ), ok AS (
    SELECT s.idx, s.sender, s.cmid FROM s WHERE s.cmid IS NULL
    UNION ALL
    SELECT s.idx, s.sender, s.cmid FROM s JOIN claim c ON c.sender_id = s.sender AND c.client_message_id = s.cmid
  ), ins AS (
    INSERT INTO messages (id, sender_id, sender_device_id, recipient_id, recipient_device_id, type,
                          encrypted_content, iv, message_number, client_message_id, timestamp)
    SELECT e.id, ok.sender, e.sdev, e.rcpt, e.rdev, e.type::message_type,
           decode(e.content, 'base64'), decode(e.iv, 'base64'), e.num, ok.cmid, $15::timestamptz
    FROM unnest($5::int[], $6::int[], $7::uuid[], $8::int[], $9::uuid[], $10::int[], $11::text[],
                $12::text[], $13::text[], $14::int[])
         AS e(ord, idx, id, sdev, rcpt, rdev, type, content, iv, num)
    JOIN ok ON ok.idx = e.idx
    ORDER BY e.ord
    RETURNING id, seq
  )
  SELECT id, seq::text AS seq FROM ins`;

const ACK_BATCH = `
  UPDATE messages m SET status = 'delivered', delivered_at = now()
  FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS a(id, uid, dev)
  WHERE m.id = a.id AND m.recipient_id = a.uid AND m.recipient_device_id = a.dev AND m.status = 'sent'
  RETURNING m.id, m.sender_id AS "senderId", m.recipient_id AS "recipientId",
            m.recipient_device_id AS "recipientDeviceId",
            (extract(epoch FROM m.timestamp) * 1000)::float8 AS "storedAtMs"`;

const QUEUE = `
  SELECT id, seq::text AS seq, sender_id AS "senderId", sender_device_id AS "senderDeviceId",
         recipient_id AS "recipientId", recipient_device_id AS "recipientDeviceId", type::text AS type,
         encrypted_content AS content, iv, message_number AS "messageNumber",
         client_message_id AS "clientMessageId", status::text AS status, timestamp
  FROM messages
  WHERE recipient_id = $1 AND recipient_device_id = $2 AND status = 'sent' AND seq > $3
  ORDER BY messages.seq LIMIT $4`;

export class MessagesRepo {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sql: Sql,
  ) {}

  /**
   * Group commit: every send of a batch in ONE statement — idempotency claims and envelopes
   * together, so the batch commits or fails as a whole. A send whose (sender, clientMessageId) is
   * already claimed stores nothing (null in the result). Envelopes are inserted in batch order, so
   * the seqs keep each sender device's order. Callers keep one clientMessageId per sender per batch.
   */
  async storeBatch(sends: BatchedSend[]): Promise<BatchResult> {
    const envs: Array<{ idx: number; e: NewEnvelope }> = [];
    sends.forEach((s, idx) => {
      for (const e of s.envelopes) envs.push({ idx, e });
    });
    // The batch's timestamp is this node's clock, sent as text: nothing to parse on the way back.
    const timestamp = new Date().toISOString();
    const rows = await this.sql.query<{ id: string; seq: string }>('store_batch', STORE_BATCH, [
      // Ids, numbers and enum words are plain, ciphertext is base64 (checked at the edge): array
      // literals built here. The replies are JSON and go through node-postgres' own escaping, and
      // only for sends with a clientMessageId (the only ones whose reply is stored).
      plainArray(sends.map((_, i) => i)),
      plainArray(sends.map((s) => s.senderId)),
      plainArray(sends.map((s) => s.clientMessageId)),
      sends.map((s) => (s.clientMessageId === null ? null : JSON.stringify(s.reply))),
      plainArray(envs.map((_, i) => i)),
      plainArray(envs.map((x) => x.idx)),
      plainArray(envs.map((x) => x.e.id)),
      plainArray(envs.map((x) => x.e.senderDeviceId)),
      plainArray(envs.map((x) => x.e.recipientId)),
      plainArray(envs.map((x) => x.e.recipientDeviceId)),
      plainArray(envs.map((x) => x.e.type)),
      quotedArray(envs.map((x) => x.e.content)),
      quotedArray(envs.map((x) => x.e.iv)),
      plainArray(envs.map((x) => x.e.messageNumber)),
      timestamp,
    ]);
    const byId = new Map(rows.map((r) => [r.id, BigInt(r.seq)]));
    return {
      timestamp,
      sends: sends.map((s) => {
        const first = s.envelopes[0];
        if (!first || !byId.has(first.id)) return null;
        return new Map(s.envelopes.map((e) => [e.id, byId.get(e.id) as bigint]));
      }),
    };
  }

  /** Acknowledgements of many devices in one UPDATE; ids not addressed to their device are ignored. */
  ackBatch(items: AckItem[]): Promise<AckChange[]> {
    return this.sql
      .query<{ id: string; senderId: string; recipientId: string; recipientDeviceId: number; storedAtMs: number }>(
        'ack_batch',
        ACK_BATCH,
        // Ids were checked to be UUIDs by the service; users and devices come from the tokens.
        [
          plainArray(items.map((a) => a.id)),
          plainArray(items.map((a) => a.userId)),
          plainArray(items.map((a) => a.deviceId)),
        ],
      )
      .then((rows) => rows.map((r) => ({ ...r, status: 'delivered' as const })));
  }

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

  /** Undelivered envelopes of one device with seq > after, oldest first. */
  async queue(userId: string, deviceId: number, afterSeq: bigint, limit: number): Promise<EnvelopeRow[]> {
    const rows = await this.sql.query<Omit<EnvelopeRow, 'seq'> & { seq: string }>('queue', QUEUE, [
      userId,
      deviceId,
      afterSeq.toString(),
      limit,
    ]);
    return rows.map((r) => ({ ...r, seq: BigInt(r.seq) }));
  }

  queueDepth(): Promise<number> {
    return this.prisma.message.count({ where: { status: 'sent' } });
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
