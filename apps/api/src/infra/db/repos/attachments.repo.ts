import type { PrismaClient } from '@snaptalker/db';

export type AttachmentState = 'pending' | 'complete' | 'deleted';

export interface AttachmentRow {
  id: string;
  uploaderId: string;
  size: number;
  contentType: string;
  state: AttachmentState;
  createdAt: Date;
  completedAt: Date | null;
  expiresAt: Date;
}

export interface NewAttachment {
  id: string;
  uploaderId: string;
  size: number;
  contentType: string;
  createdAt: Date;
  expiresAt: Date;
}

const DAY_MS = 86_400_000;

function toRow(r: {
  id: string;
  uploaderId: string;
  size: bigint;
  contentType: string;
  state: AttachmentState;
  createdAt: Date;
  completedAt: Date | null;
  expiresAt: Date;
}): AttachmentRow {
  return { ...r, size: Number(r.size) };
}

export class AttachmentsRepo {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Inserts the row unless the uploader's declared bytes of the last 24 hours plus this one pass
   * `quotaBytes`; then returns when the oldest upload in the window leaves it. A per-user advisory
   * lock serialises the check and the insert, so concurrent creates on any node cannot both squeeze
   * under the quota (the lock is taken in its own statement: the sum must see rows committed while
   * it waited).
   */
  async createWithinQuota(
    a: NewAttachment,
    quotaBytes: number,
  ): Promise<{ created: true } | { created: false; freesAt: Date }> {
    const windowStart = new Date(a.createdAt.getTime() - DAY_MS);
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`attachment-quota:${a.uploaderId}`}, 0))`;
      const [used] = await tx.$queryRaw<Array<{ bytes: bigint | null; oldest: Date | null }>>`
        SELECT sum(size)::bigint AS bytes, min(created_at) AS oldest FROM attachments
        WHERE uploader_id = ${a.uploaderId}::uuid AND created_at > ${windowStart}`;
      const bytes = Number(used?.bytes ?? 0n);
      if (bytes + a.size > quotaBytes) {
        return { created: false as const, freesAt: new Date((used?.oldest ?? a.createdAt).getTime() + DAY_MS) };
      }
      await tx.attachment.create({ data: { ...a, size: BigInt(a.size), state: 'pending' } });
      return { created: true as const };
    });
  }

  async find(id: string): Promise<AttachmentRow | null> {
    const r = await this.prisma.attachment.findUnique({ where: { id } });
    return r ? toRow(r) : null;
  }

  /** pending → complete, once; false if it was not pending (completed, deleted or swept meanwhile). */
  async markComplete(id: string, completedAt: Date, expiresAt: Date): Promise<boolean> {
    const n = await this.prisma.attachment.updateMany({
      where: { id, state: 'pending' },
      data: { state: 'complete', completedAt, expiresAt },
    });
    return n.count === 1;
  }

  /** → deleted (the row stays for the quota window); false if it already was. */
  async markDeleted(id: string): Promise<boolean> {
    const n = await this.prisma.attachment.updateMany({
      where: { id, state: { not: 'deleted' } },
      data: { state: 'deleted' },
    });
    return n.count === 1;
  }

  /**
   * Claims up to `batch` attachments past their deadline (pending: the upload TTL; complete: the
   * retention) by marking them deleted, and returns them so their objects can be removed. SKIP
   * LOCKED lets every node sweep at once: each row is claimed by exactly one of them.
   */
  claimExpired(now: Date, batch: number): Promise<Array<{ id: string; wasState: AttachmentState }>> {
    return this.prisma.$queryRaw`
      WITH due AS (
        SELECT id, state FROM attachments
        WHERE state IN ('pending', 'complete') AND expires_at <= ${now}
        ORDER BY expires_at LIMIT ${batch} FOR UPDATE SKIP LOCKED
      )
      UPDATE attachments a SET state = 'deleted' FROM due WHERE a.id = due.id
      RETURNING a.id, due.state::text AS "wasState"`;
  }

  /**
   * Deleted rows leave once they no longer count for the quota (24 hours after creation). Their
   * objects are deleted again first by the caller (idempotent), in case the first delete failed.
   */
  claimForgettable(now: Date, batch: number): Promise<Array<{ id: string }>> {
    return this.prisma.$queryRaw`
      DELETE FROM attachments WHERE id IN (
        SELECT id FROM attachments WHERE state = 'deleted' AND created_at <= ${new Date(now.getTime() - DAY_MS)}
        LIMIT ${batch} FOR UPDATE SKIP LOCKED)
      RETURNING id`;
  }

  /** Bytes of the completed attachments (the objects the store is expected to hold). */
  async storedBytes(): Promise<number> {
    const [r] = await this.prisma.$queryRaw<Array<{ bytes: bigint | null }>>`
      SELECT sum(size)::bigint AS bytes FROM attachments WHERE state = 'complete'`;
    return Number(r?.bytes ?? 0n);
  }
}
