import { Prisma, type PrismaClient } from '@snaptalker/db';
import type { AdminRole } from '../../../domain/admin.js';

const isUniqueViolation = (e: unknown) => e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002';

export interface AdminRow {
  id: string;
  email: string;
  passwordHash: string;
  role: AdminRole;
  disabled: boolean;
  failedLogins: number;
  lockedUntil: Date | null;
  lastLoginAt: Date | null;
  createdAt: Date;
}

export interface AuditEntry {
  actorType: 'admin' | 'user' | 'system';
  actorId: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  details?: Prisma.InputJsonValue;
}

export interface NodeStatRow {
  nodeId: string;
  bucketAt: Date;
  messagesSent: number;
  messageSockets: number;
  callSockets: number;
  latencyBuckets: number[];
  updatedAt: Date;
}

/** Keyset paging: rows strictly older than the cursor, newest first; one extra row tells if more follow. */
const page = <T>(rows: T[], limit: number, cursorOf: (row: T) => string) => {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? cursorOf(items[items.length - 1] as T) : null };
};

/** Admin accounts and sessions, the audit log, and the read models of the console. */
export class AdminRepo {
  constructor(private readonly prisma: PrismaClient) {}

  // ---- admins and their sessions

  countAdmins(): Promise<number> {
    return this.prisma.admin.count();
  }

  findAdminByEmail(email: string): Promise<AdminRow | null> {
    return this.prisma.admin.findUnique({ where: { email } });
  }

  findAdmin(id: string): Promise<AdminRow | null> {
    return this.prisma.admin.findUnique({ where: { id } });
  }

  listAdmins(): Promise<AdminRow[]> {
    return this.prisma.admin.findMany({ orderBy: { createdAt: 'asc' } });
  }

  /** null when the email is taken. */
  async createAdmin(email: string, passwordHash: string, role: AdminRole): Promise<string | null> {
    try {
      const a = await this.prisma.admin.create({ data: { email, passwordHash, role }, select: { id: true } });
      return a.id;
    } catch (e) {
      if (isUniqueViolation(e)) return null;
      throw e;
    }
  }

  /** Creates the first owner only while there is no admin at all (concurrent first starts: one wins). */
  async createFirstOwner(email: string, passwordHash: string): Promise<boolean> {
    const n = await this.prisma.$executeRaw`
      INSERT INTO admins (id, email, password_hash, role)
      SELECT gen_random_uuid(), ${email}, ${passwordHash}, 'owner'::admin_role
      WHERE NOT EXISTS (SELECT 1 FROM admins)
      ON CONFLICT (email) DO NOTHING`;
    return n > 0;
  }

  async setRole(id: string, role: AdminRole): Promise<boolean> {
    return (await this.prisma.admin.updateMany({ where: { id }, data: { role } })).count > 0;
  }

  async setDisabled(id: string, disabled: boolean): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      const r = await tx.admin.updateMany({ where: { id }, data: { disabled } });
      if (disabled)
        await tx.adminSession.updateMany({ where: { adminId: id, revokedAt: null }, data: { revokedAt: new Date() } });
      return r.count > 0;
    });
  }

  /**
   * Counts a wrong password atomically; at `max` consecutive failures the account locks until
   * `lockFor` from now and the counter starts again. Returns the lock's end when this failure locked it.
   */
  async recordFailedLogin(id: string, max: number, lockMs: number): Promise<Date | null> {
    const until = new Date(Date.now() + lockMs);
    const [row] = await this.prisma.$queryRaw<{ locked_until: Date | null }[]>`
      UPDATE admins SET
        failed_logins = CASE WHEN failed_logins + 1 >= ${max} THEN 0 ELSE failed_logins + 1 END,
        locked_until = CASE WHEN failed_logins + 1 >= ${max} THEN ${until} ELSE locked_until END
      WHERE id = ${id}::uuid
      RETURNING locked_until`;
    return row?.locked_until && row.locked_until.getTime() === until.getTime() ? row.locked_until : null;
  }

  async recordLogin(id: string): Promise<void> {
    await this.prisma.admin.update({
      where: { id },
      data: { failedLogins: 0, lockedUntil: null, lastLoginAt: new Date() },
    });
  }

  async createSession(adminId: string, tokenHash: Uint8Array<ArrayBuffer>, expiresAt: Date): Promise<string> {
    const s = await this.prisma.adminSession.create({ data: { adminId, tokenHash, expiresAt }, select: { id: true } });
    return s.id;
  }

  findSessionByToken(tokenHash: Uint8Array<ArrayBuffer>) {
    return this.prisma.adminSession.findUnique({ where: { tokenHash } });
  }

  findSessionByPreviousToken(tokenHash: Uint8Array<ArrayBuffer>) {
    return this.prisma.adminSession.findUnique({ where: { previousTokenHash: tokenHash } });
  }

  /** Swaps the session's refresh token if it still holds `old`; false when another refresh won. */
  async rotateSession(id: string, old: Uint8Array<ArrayBuffer>, next: Uint8Array<ArrayBuffer>): Promise<boolean> {
    const r = await this.prisma.adminSession.updateMany({
      where: { id, tokenHash: old, revokedAt: null },
      data: { tokenHash: next, previousTokenHash: old, rotatedAt: new Date() },
    });
    return r.count > 0;
  }

  async revokeSession(id: string): Promise<void> {
    await this.prisma.adminSession.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
  }

  /** The session's state and its admin's, read on every admin call (role changes apply at once). */
  sessionWithAdmin(id: string) {
    return this.prisma.adminSession.findUnique({
      where: { id },
      select: {
        revokedAt: true,
        expiresAt: true,
        admin: { select: { id: true, email: true, role: true, disabled: true } },
      },
    });
  }

  // ---- audit log

  async audit(e: AuditEntry): Promise<void> {
    await this.prisma.auditLog.create({
      data: {
        actorType: e.actorType,
        actorId: e.actorId,
        action: e.action,
        targetType: e.targetType ?? null,
        targetId: e.targetId ?? null,
        ...(e.details === undefined ? {} : { details: e.details }),
      },
    });
  }

  async listAudit(f: { action?: string; actorId?: string; targetId?: string; before?: bigint; limit: number }) {
    const rows = await this.prisma.auditLog.findMany({
      where: {
        ...(f.action ? { action: f.action } : {}),
        ...(f.actorId ? { actorId: f.actorId } : {}),
        ...(f.targetId ? { targetId: f.targetId } : {}),
        ...(f.before !== undefined ? { id: { lt: f.before } } : {}),
      },
      orderBy: { id: 'desc' },
      take: f.limit + 1,
    });
    return page(rows, f.limit, (r) => r.id.toString());
  }

  async adminEmails(ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.prisma.admin.findMany({ where: { id: { in: ids } }, select: { id: true, email: true } });
    return new Map(rows.map((r) => [r.id, r.email]));
  }

  async usernames(ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await this.prisma.user.findMany({ where: { id: { in: ids } }, select: { id: true, username: true } });
    return new Map(rows.map((r) => [r.id, r.username]));
  }

  // ---- users

  /** Newest first; `q` already classified by the service (id, phone or username prefix). */
  async searchUsers(
    q: { id: string } | { phone: string } | { usernamePrefix: string } | null,
    before: { createdAt: Date; id: string } | null,
    limit: number,
  ) {
    const match: Prisma.UserWhereInput =
      q === null
        ? {}
        : 'id' in q
          ? { id: q.id }
          : 'phone' in q
            ? { phone: q.phone }
            : { usernameLower: { startsWith: q.usernamePrefix } };
    const rows = await this.prisma.user.findMany({
      where: {
        ...match,
        ...(before
          ? {
              OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }],
            }
          : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      select: {
        id: true,
        username: true,
        phone: true,
        verified: true,
        banned: true,
        createdAt: true,
        _count: { select: { devices: true } },
      },
    });
    return page(rows, limit, (r) => `${r.createdAt.toISOString()}|${r.id}`);
  }

  findUser(id: string) {
    return this.prisma.user.findUnique({
      where: { id },
      select: {
        id: true,
        username: true,
        phone: true,
        verified: true,
        banned: true,
        createdAt: true,
        devices: {
          orderBy: { deviceId: 'asc' },
          select: {
            deviceId: true,
            name: true,
            createdAt: true,
            lastSeenAt: true,
            signedPreKey: { select: { createdAt: true } },
          },
        },
      },
    });
  }

  userPhone(id: string) {
    return this.prisma.user.findUnique({ where: { id }, select: { phone: true } });
  }

  /** Unused one-time prekeys per device and kind (last-resort keys are not stock). */
  async prekeyStock(userId: string): Promise<Map<number, { ec: number; kyber: number }>> {
    const rows = await this.prisma.$queryRaw<{ device_id: number; kind: string; n: bigint }[]>`
      SELECT device_id, kind::text AS kind, count(*) AS n FROM prekeys
      WHERE user_id = ${userId}::uuid AND is_used = false AND kind IN ('ec', 'kyber')
      GROUP BY device_id, kind`;
    const out = new Map<number, { ec: number; kyber: number }>();
    for (const r of rows) {
      const s = out.get(r.device_id) ?? { ec: 0, kyber: 0 };
      s[r.kind as 'ec' | 'kyber'] = Number(r.n);
      out.set(r.device_id, s);
    }
    return out;
  }

  userCalls(userId: string, limit: number) {
    return this.prisma.call.findMany({
      where: { OR: [{ callerId: userId }, { calleeId: userId }] },
      orderBy: { startedAt: 'desc' },
      take: limit,
    });
  }

  async attachmentUsage(userId: string): Promise<{ count: number; bytes: number }> {
    const r = await this.prisma.attachment.aggregate({
      where: { uploaderId: userId, state: 'complete' },
      _count: { _all: true },
      _sum: { size: true },
    });
    return { count: r._count._all, bytes: Number(r._sum.size ?? 0n) };
  }

  // ---- keys

  /** Registered devices whose EC or Kyber one-time stock is below the watermark, lowest first. */
  async lowKeyDevices(watermark: number, offset: number, limit: number) {
    const rows = await this.prisma.$queryRaw<
      { user_id: string; username: string; device_id: number; name: string | null; ec: bigint; kyber: bigint }[]
    >`
      SELECT d.user_id, u.username, d.device_id, d.name, s.ec, s.kyber
      FROM devices d
      JOIN users u ON u.id = d.user_id
      CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE p.kind = 'ec') AS ec, count(*) FILTER (WHERE p.kind = 'kyber') AS kyber
        FROM prekeys p
        WHERE p.user_id = d.user_id AND p.device_id = d.device_id AND p.is_used = false
      ) s
      WHERE d.registration_id IS NOT NULL AND (s.ec < ${watermark} OR s.kyber < ${watermark})
      ORDER BY LEAST(s.ec, s.kyber), d.user_id, d.device_id
      OFFSET ${offset} LIMIT ${limit + 1}`;
    const items = rows.slice(0, limit).map((r) => ({
      userId: r.user_id,
      username: r.username,
      deviceId: r.device_id,
      deviceName: r.name,
      ec: Number(r.ec),
      kyber: Number(r.kyber),
    }));
    return { items, nextCursor: rows.length > limit ? String(offset + limit) : null };
  }

  // ---- calls

  liveCalls() {
    return this.prisma.call.findMany({
      where: { state: { in: ['ringing', 'connected'] } },
      orderBy: { startedAt: 'desc' },
      take: 500,
    });
  }

  async endedCalls(before: { startedAt: Date; id: string } | null, limit: number) {
    const rows = await this.prisma.call.findMany({
      where: {
        state: 'ended',
        ...(before
          ? { OR: [{ startedAt: { lt: before.startedAt } }, { startedAt: before.startedAt, id: { lt: before.id } }] }
          : {}),
      },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
    });
    return page(rows, limit, (r) => `${r.startedAt.toISOString()}|${r.id}`);
  }

  // ---- dashboard

  async totals() {
    const [row] = await this.prisma.$queryRaw<
      {
        users: bigint;
        banned: bigint;
        devices: bigint;
        queue: bigint;
        calls: bigint;
        att_count: bigint;
        att_bytes: bigint | null;
      }[]
    >`
      SELECT
        (SELECT count(*) FROM users WHERE verified) AS users,
        (SELECT count(*) FROM users WHERE banned) AS banned,
        (SELECT count(*) FROM devices) AS devices,
        (SELECT count(*) FROM messages WHERE status = 'sent') AS queue,
        (SELECT count(*) FROM calls WHERE state IN ('ringing', 'connected')) AS calls,
        (SELECT count(*) FROM attachments WHERE state = 'complete') AS att_count,
        (SELECT sum(size) FROM attachments WHERE state = 'complete') AS att_bytes`;
    return {
      users: Number(row?.users ?? 0),
      bannedUsers: Number(row?.banned ?? 0),
      devices: Number(row?.devices ?? 0),
      queueDepth: Number(row?.queue ?? 0),
      activeCalls: Number(row?.calls ?? 0),
      attachmentCount: Number(row?.att_count ?? 0),
      attachmentBytes: Number(row?.att_bytes ?? 0),
    };
  }

  async writeNodeStat(s: Omit<NodeStatRow, 'updatedAt'>): Promise<void> {
    await this.prisma.$executeRaw`
      INSERT INTO node_stats (node_id, bucket_at, messages_sent, message_sockets, call_sockets, latency_buckets, updated_at)
      VALUES (${s.nodeId}, ${s.bucketAt}, ${s.messagesSent}, ${s.messageSockets}, ${s.callSockets}, ${s.latencyBuckets}::int[], now())
      ON CONFLICT (node_id, bucket_at) DO UPDATE SET
        messages_sent = EXCLUDED.messages_sent,
        message_sockets = EXCLUDED.message_sockets,
        call_sockets = EXCLUDED.call_sockets,
        latency_buckets = EXCLUDED.latency_buckets,
        updated_at = now()`;
  }

  nodeStatsSince(since: Date): Promise<NodeStatRow[]> {
    return this.prisma.nodeStat.findMany({ where: { bucketAt: { gte: since } }, orderBy: { bucketAt: 'asc' } });
  }

  async purgeNodeStats(before: Date): Promise<void> {
    await this.prisma.nodeStat.deleteMany({ where: { bucketAt: { lt: before } } });
  }
}
