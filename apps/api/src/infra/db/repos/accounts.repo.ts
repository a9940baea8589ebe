import { Prisma, type PrismaClient } from '@snaptalker/db';

export type Tx = Prisma.TransactionClient;

export interface DeviceAuthState {
  tokenVersion: number;
  lastSeenAt: Date;
  banned: boolean;
}

const isUniqueViolation = (e: unknown) => e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002';

/** Users, devices and refresh tokens. */
export class AccountsRepo {
  constructor(private readonly prisma: PrismaClient) {}

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.prisma.$transaction(fn);
  }

  findOwners(usernameLower: string, phone: string) {
    return this.prisma.user.findMany({
      where: { OR: [{ usernameLower }, { phone }] },
      select: { id: true, verified: true, phone: true, usernameLower: true },
    });
  }

  /**
   * Replaces any pending (unverified) registration holding this phone or username with a new one.
   * Returns null when a verified account took either in the meantime (unique violation).
   */
  async replacePending(data: { username: string; phone: string; passwordHash: string }): Promise<string | null> {
    const usernameLower = data.username.toLowerCase();
    try {
      return await this.prisma.$transaction(async (tx) => {
        await tx.user.deleteMany({ where: { verified: false, OR: [{ usernameLower }, { phone: data.phone }] } });
        const u = await tx.user.create({ data: { ...data, usernameLower }, select: { id: true } });
        return u.id;
      });
    } catch (e) {
      if (isUniqueViolation(e)) return null;
      throw e;
    }
  }

  deletePending(userId: string) {
    return this.prisma.user.deleteMany({ where: { id: userId, verified: false } });
  }

  findByLogin(login: string) {
    const where = login.startsWith('+') ? { phone: login } : { usernameLower: login.toLowerCase() };
    return this.prisma.user.findUnique({
      where,
      select: { id: true, passwordHash: true, verified: true, banned: true },
    });
  }

  /** Marks the pending account verified and creates device 1; false if it was not pending. */
  async verifyAndCreateFirstDevice(tx: Tx, userId: string, phone: string, name: string | undefined): Promise<boolean> {
    const r = await tx.user.updateMany({
      where: { id: userId, phone, verified: false },
      data: { verified: true, nextDeviceId: 2 },
    });
    if (r.count !== 1) return false;
    await tx.device.create({ data: { userId, deviceId: 1, name: name ?? null } });
    return true;
  }

  /**
   * Takes the next device id (row-locking the user, so concurrent logins serialise) and links the
   * device unless the account already has `max` devices. Returns the id, or null when full.
   */
  async linkDevice(tx: Tx, userId: string, name: string | undefined, max: number): Promise<number | null> {
    const u = await tx.user.update({
      where: { id: userId },
      data: { nextDeviceId: { increment: 1 } },
      select: { nextDeviceId: true },
    });
    const count = await tx.device.count({ where: { userId } });
    if (count >= max) return null;
    const deviceId = u.nextDeviceId - 1;
    await tx.device.create({ data: { userId, deviceId, name: name ?? null } });
    return deviceId;
  }

  async deviceAuthState(userId: string, deviceId: number): Promise<DeviceAuthState | null> {
    const d = await this.prisma.device.findUnique({
      where: { userId_deviceId: { userId, deviceId } },
      select: { tokenVersion: true, lastSeenAt: true, user: { select: { banned: true } } },
    });
    return d ? { tokenVersion: d.tokenVersion, lastSeenAt: d.lastSeenAt, banned: d.user.banned } : null;
  }

  touchDevice(userId: string, deviceId: number, olderThan: Date) {
    return this.prisma.device.updateMany({
      where: { userId, deviceId, lastSeenAt: { lt: olderThan } },
      data: { lastSeenAt: new Date() },
    });
  }

  createRefreshToken(
    tx: Tx,
    t: { userId: string; deviceId: number; tokenHash: Uint8Array<ArrayBuffer>; expiresAt: Date },
  ) {
    return tx.refreshToken.create({ data: t, select: { id: true } });
  }

  findRefreshToken(tokenHash: Uint8Array<ArrayBuffer>) {
    return this.prisma.refreshToken.findUnique({ where: { tokenHash } });
  }

  /** Single use, enforced by the row update itself: only one caller can flip used_at. */
  /**
   * Locks the device row until the transaction ends. Every refresh of a device (the one that rotates
   * and the ones that detect reuse) runs under this lock, so a reuse revocation always sees the token
   * the winner minted: the whole family goes, whatever the interleaving.
   */
  async lockDevice(
    tx: Tx,
    userId: string,
    deviceId: number,
  ): Promise<{ tokenVersion: number; banned: boolean } | null> {
    const rows = await tx.$queryRaw<Array<{ tokenVersion: number; banned: boolean }>>`
      SELECT d.token_version AS "tokenVersion", u.banned
      FROM devices d JOIN users u ON u.id = d.user_id
      WHERE d.user_id = ${userId}::uuid AND d.device_id = ${deviceId}
      FOR UPDATE OF d`;
    return rows[0] ?? null;
  }

  async markRefreshUsed(id: string, tx: Tx = this.prisma): Promise<boolean> {
    const r = await tx.refreshToken.updateMany({
      where: { id, usedAt: null, revokedAt: null },
      data: { usedAt: new Date() },
    });
    return r.count === 1;
  }

  revokeDeviceRefreshTokens(userId: string, deviceId: number, tx: Tx = this.prisma) {
    return tx.refreshToken.updateMany({
      where: { userId, deviceId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
  }

  bumpTokenVersion(userId: string, deviceId: number, tx: Tx = this.prisma) {
    return tx.device.updateMany({ where: { userId, deviceId }, data: { tokenVersion: { increment: 1 } } });
  }

  profile(userId: string) {
    return this.prisma.user.findUnique({
      where: { id: userId },
      select: {
        id: true,
        username: true,
        phone: true,
        devices: {
          orderBy: { deviceId: 'asc' },
          select: { deviceId: true, name: true, createdAt: true, lastSeenAt: true },
        },
      },
    });
  }

  /**
   * Ends every session of the account (admin "revoke all sessions"): refresh tokens revoked and
   * every device's token version bumped, so issued access tokens die too. Devices stay linked.
   * Returns the device ids, or null for an unknown user.
   */
  async revokeUserSessions(userId: string): Promise<number[] | null> {
    return this.prisma.$transaction(async (tx) => {
      if (!(await tx.user.findUnique({ where: { id: userId }, select: { id: true } }))) return null;
      await tx.refreshToken.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: new Date() } });
      await tx.device.updateMany({ where: { userId }, data: { tokenVersion: { increment: 1 } } });
      const devices = await tx.device.findMany({ where: { userId }, select: { deviceId: true } });
      return devices.map((d) => d.deviceId);
    });
  }

  /** Removes a device with everything hanging off it: keys (FK cascade), queued envelopes, tokens. */
  async deleteDevice(userId: string, deviceId: number): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      const r = await tx.device.deleteMany({ where: { userId, deviceId } });
      if (r.count === 0) return false;
      await tx.message.deleteMany({ where: { recipientId: userId, recipientDeviceId: deviceId } });
      await tx.refreshToken.deleteMany({ where: { userId, deviceId } });
      return true;
    });
  }

  async setBanned(userId: string, banned: boolean, actor: string | null): Promise<number[] | null> {
    return this.prisma.$transaction(async (tx) => {
      const r = await tx.user.updateMany({
        where: { id: userId },
        data: { banned, bannedAt: banned ? new Date() : null },
      });
      if (r.count === 0) return null;
      await tx.auditLog.create({
        data: {
          actorType: 'admin',
          actorId: actor,
          action: banned ? 'user.ban' : 'user.unban',
          targetType: 'user',
          targetId: userId,
        },
      });
      const devices = await tx.device.findMany({ where: { userId }, select: { deviceId: true } });
      return devices.map((d) => d.deviceId);
    });
  }
}
