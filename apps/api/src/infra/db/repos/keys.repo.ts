import type { PrismaClient } from '@snaptalker/db';
import type { Tx } from './accounts.repo.js';

type Bytes = Uint8Array<ArrayBuffer>;

export interface StoredKey {
  keyId: number;
  publicKey: Bytes;
  signature?: Bytes;
}

export interface KeyWrite {
  registrationId?: number;
  signedPreKey?: Required<StoredKey>;
  preKeys: StoredKey[];
  kyberPreKeys: Required<StoredKey>[];
  lastResort?: Required<StoredKey>;
}

export interface ClaimableDevice {
  deviceId: number;
  registrationId: number;
  signedPreKey: Required<StoredKey>;
}

/** One-time EC prekeys, one-time Kyber prekeys, last-resort Kyber keys and signed prekeys. */
export class KeysRepo {
  constructor(private readonly prisma: PrismaClient) {}

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.prisma.$transaction(fn);
  }

  async identity(userId: string): Promise<Bytes | null | undefined> {
    const u = await this.prisma.user.findUnique({ where: { id: userId }, select: { identityKeyPublic: true } });
    return u === null ? undefined : u.identityKeyPublic;
  }

  /** The account's identity key, row-locked until the transaction ends (uploads serialise per account). */
  async lockIdentity(tx: Tx, userId: string): Promise<Bytes | null> {
    const rows = await tx.$queryRaw<Array<{ k: Bytes | null }>>`
      SELECT identity_key_public AS k FROM users WHERE id = ${userId}::uuid FOR UPDATE`;
    return rows[0]?.k ?? null;
  }

  async deviceRegistrationId(tx: Tx, userId: string, deviceId: number): Promise<number | null | undefined> {
    const d = await tx.device.findUnique({
      where: { userId_deviceId: { userId, deviceId } },
      select: { registrationId: true },
    });
    return d === null ? undefined : d.registrationId;
  }

  async setIdentity(tx: Tx, userId: string, key: Bytes, replacing: boolean, deviceId: number): Promise<void> {
    await tx.user.update({
      where: { id: userId },
      data: { identityKeyPublic: key, ...(replacing ? { identityKeyVersion: { increment: 1 } } : {}) },
    });
    if (!replacing) return;
    // A new identity invalidates every prekey signed by the old one, on every device.
    await tx.preKey.deleteMany({ where: { userId } });
    await tx.signedPreKey.deleteMany({ where: { userId } });
    await tx.auditLog.create({
      data: {
        actorType: 'user',
        actorId: `${userId}.${deviceId}`,
        action: 'keys.identity_changed',
        targetType: 'user',
        targetId: userId,
      },
    });
  }

  /** Drops every prekey of one device (a reinstall: the old install's private halves are gone). */
  async discardDeviceKeys(tx: Tx, userId: string, deviceId: number): Promise<void> {
    await tx.preKey.deleteMany({ where: { userId, deviceId } });
    await tx.signedPreKey.deleteMany({ where: { userId, deviceId } });
  }

  async write(tx: Tx, userId: string, deviceId: number, w: KeyWrite): Promise<void> {
    if (w.registrationId !== undefined) {
      await tx.device.update({
        where: { userId_deviceId: { userId, deviceId } },
        data: { registrationId: w.registrationId },
      });
    }
    if (w.signedPreKey) {
      const { keyId, publicKey, signature } = w.signedPreKey;
      await tx.signedPreKey.upsert({
        where: { userId_deviceId: { userId, deviceId } },
        create: { userId, deviceId, keyId, publicKey, signature },
        update: { keyId, publicKey, signature, createdAt: new Date() },
      });
    }
    // A keyId already stored for the device is replaced (and becomes unused again).
    const replace = async (kind: 'ec' | 'kyber' | 'kyber_last_resort', keys: StoredKey[]) => {
      if (keys.length === 0) return;
      await tx.preKey.deleteMany({
        where:
          kind === 'kyber_last_resort'
            ? { userId, deviceId, kind }
            : { userId, deviceId, kind, keyId: { in: keys.map((k) => k.keyId) } },
      });
      await tx.preKey.createMany({
        data: keys.map((k) => ({
          userId,
          deviceId,
          kind,
          keyId: k.keyId,
          publicKey: k.publicKey,
          signature: k.signature ?? null,
        })),
      });
    };
    await replace('ec', w.preKeys);
    await replace('kyber', w.kyberPreKeys);
    if (w.lastResort) await replace('kyber_last_resort', [w.lastResort]);
  }

  async counts(userId: string, deviceId: number, db: Tx = this.prisma): Promise<{ ec: number; kyber: number }> {
    const rows = await db.preKey.groupBy({
      by: ['kind'],
      where: { userId, deviceId, isUsed: false, kind: { in: ['ec', 'kyber'] } },
      _count: { _all: true },
    });
    const n = (k: string) => rows.find((r) => r.kind === k)?._count._all ?? 0;
    return { ec: n('ec'), kyber: n('kyber') };
  }

  /** Unused one-time EC prekeys, counted only up to `cap` (enough to compare with a watermark, O(cap)). */
  async unusedEcUpTo(userId: string, deviceId: number, cap: number): Promise<number> {
    const rows = await this.prisma.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM (
        SELECT 1 FROM prekeys
        WHERE user_id = ${userId}::uuid AND device_id = ${deviceId} AND kind = 'ec' AND is_used = false
        LIMIT ${cap}
      ) s`;
    return rows[0]?.n ?? 0;
  }

  async claimableDevices(userId: string, deviceId?: number): Promise<ClaimableDevice[]> {
    const rows = await this.prisma.device.findMany({
      where: {
        userId,
        registrationId: { not: null },
        signedPreKey: { isNot: null },
        ...(deviceId ? { deviceId } : {}),
      },
      orderBy: { deviceId: 'asc' },
      select: {
        deviceId: true,
        registrationId: true,
        signedPreKey: { select: { keyId: true, publicKey: true, signature: true } },
      },
    });
    return rows.flatMap((r) =>
      r.signedPreKey && r.registrationId !== null
        ? [{ deviceId: r.deviceId, registrationId: r.registrationId, signedPreKey: r.signedPreKey }]
        : [],
    );
  }

  /**
   * Atomically takes one unused one-time key. SKIP LOCKED lets concurrent claimers pass over a row
   * another claim holds, and the row-level update means no two callers can ever get the same key.
   */
  async claimOneTime(userId: string, deviceId: number, kind: 'ec' | 'kyber'): Promise<StoredKey | null> {
    const rows = await this.prisma.$queryRaw<Array<{ keyId: number; publicKey: Bytes; signature: Bytes | null }>>`
      UPDATE prekeys SET is_used = true
      WHERE id = (
        SELECT id FROM prekeys
        WHERE user_id = ${userId}::uuid AND device_id = ${deviceId} AND kind = ${kind}::prekey_kind AND is_used = false
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      RETURNING prekey_id AS "keyId", public_key AS "publicKey", signature`;
    const r = rows[0];
    return r ? { keyId: r.keyId, publicKey: r.publicKey, ...(r.signature ? { signature: r.signature } : {}) } : null;
  }

  async lastResort(userId: string, deviceId: number): Promise<StoredKey | null> {
    const k = await this.prisma.preKey.findFirst({
      where: { userId, deviceId, kind: 'kyber_last_resort' },
      select: { keyId: true, publicKey: true, signature: true },
    });
    return k ? { keyId: k.keyId, publicKey: k.publicKey, ...(k.signature ? { signature: k.signature } : {}) } : null;
  }

  /** Marks one of the device's own EC prekeys used; false when the device never had that key id. */
  async markUsed(userId: string, deviceId: number, keyId: number): Promise<boolean> {
    const r = await this.prisma.preKey.updateMany({
      where: { userId, deviceId, kind: 'ec', keyId },
      data: { isUsed: true },
    });
    return r.count > 0;
  }
}
