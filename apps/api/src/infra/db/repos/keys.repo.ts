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

  /** The account identity and the devices that can serve a bundle, in one round trip. */
  async bundleSource(
    userId: string,
    deviceId?: number,
  ): Promise<{ identity: Bytes | null; devices: ClaimableDevice[] } | null> {
    const rows = await this.prisma.$queryRaw<
      Array<{
        identity: Bytes | null;
        deviceId: number | null;
        registrationId: number | null;
        keyId: number | null;
        publicKey: Bytes | null;
        signature: Bytes | null;
      }>
    >`
      SELECT u.identity_key_public AS identity, d.device_id AS "deviceId", d.registration_id AS "registrationId",
             s.signed_prekey_id AS "keyId", s.signed_prekey_public AS "publicKey", s.signed_prekey_signature AS signature
      FROM users u
      LEFT JOIN devices d ON d.user_id = u.id AND d.registration_id IS NOT NULL
        AND (${deviceId ?? null}::int IS NULL OR d.device_id = ${deviceId ?? null}::int)
      LEFT JOIN signed_prekeys s ON s.user_id = d.user_id AND s.device_id = d.device_id
      WHERE u.id = ${userId}::uuid
      ORDER BY d.device_id`;
    const first = rows[0];
    if (!first) return null;
    const devices = rows.flatMap((r) =>
      r.deviceId !== null && r.registrationId !== null && r.keyId !== null && r.publicKey && r.signature
        ? [
            {
              deviceId: r.deviceId,
              registrationId: r.registrationId,
              signedPreKey: { keyId: r.keyId, publicKey: r.publicKey, signature: r.signature },
            },
          ]
        : [],
    );
    return { identity: first.identity, devices };
  }

  /**
   * One statement per device: claims a one-time EC key and a one-time Kyber key (each with
   * FOR UPDATE SKIP LOCKED, so no two callers ever get the same key), reads the last-resort key,
   * and counts unused EC keys up to `cap` (in the statement's snapshot, i.e. before this claim).
   */
  async claimBundleKeys(
    userId: string,
    deviceId: number,
    cap: number,
  ): Promise<{ preKey: StoredKey | null; kyber: StoredKey | null; unusedBefore: number }> {
    const rows = await this.prisma.$queryRaw<
      Array<{
        ecId: number | null;
        ecKey: Bytes | null;
        kyId: number | null;
        kyKey: Bytes | null;
        kySig: Bytes | null;
        lrId: number | null;
        lrKey: Bytes | null;
        lrSig: Bytes | null;
        unused: number;
      }>
    >`
      WITH ec AS (
        UPDATE prekeys SET is_used = true
        WHERE id = (SELECT id FROM prekeys
                    WHERE user_id = ${userId}::uuid AND device_id = ${deviceId} AND kind = 'ec' AND is_used = false
                    LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING prekey_id, public_key
      ), ky AS (
        UPDATE prekeys SET is_used = true
        WHERE id = (SELECT id FROM prekeys
                    WHERE user_id = ${userId}::uuid AND device_id = ${deviceId} AND kind = 'kyber' AND is_used = false
                    LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING prekey_id, public_key, signature
      ), lr AS (
        SELECT prekey_id, public_key, signature FROM prekeys
        WHERE user_id = ${userId}::uuid AND device_id = ${deviceId} AND kind = 'kyber_last_resort' LIMIT 1
      ), unused AS (
        SELECT count(*)::int AS n FROM (
          SELECT 1 FROM prekeys
          WHERE user_id = ${userId}::uuid AND device_id = ${deviceId} AND kind = 'ec' AND is_used = false
          LIMIT ${cap}) s
      )
      SELECT ec.prekey_id AS "ecId", ec.public_key AS "ecKey", ky.prekey_id AS "kyId", ky.public_key AS "kyKey",
             ky.signature AS "kySig", lr.prekey_id AS "lrId", lr.public_key AS "lrKey", lr.signature AS "lrSig",
             unused.n AS unused
      FROM unused LEFT JOIN ec ON true LEFT JOIN ky ON true LEFT JOIN lr ON true`;
    const r = rows[0];
    if (!r) return { preKey: null, kyber: null, unusedBefore: 0 };
    const preKey = r.ecId !== null && r.ecKey ? { keyId: r.ecId, publicKey: r.ecKey } : null;
    const kyber =
      r.kyId !== null && r.kyKey && r.kySig
        ? { keyId: r.kyId, publicKey: r.kyKey, signature: r.kySig }
        : r.lrId !== null && r.lrKey && r.lrSig
          ? { keyId: r.lrId, publicKey: r.lrKey, signature: r.lrSig }
          : null;
    return { preKey, kyber, unusedBefore: r.unused };
  }

  /** Marks one of the device's own EC prekeys used; false when the device never had that key id. */
  async markUsed(userId: string, deviceId: number, keyId: number): Promise<boolean> {
    const r = await this.prisma.preKey.updateMany({
      where: { userId, deviceId, kind: 'ec', keyId },
      data: { isUsed: true },
    });
    return r.count > 0;
  }

  /** Registered devices with fewer than `watermark` unused one-time EC prekeys (a metric). */
  async countLowStockDevices(watermark: number): Promise<number> {
    const [row] = await this.prisma.$queryRaw<[{ n: bigint }]>`
      SELECT count(*) AS n FROM devices d
      WHERE d.registration_id IS NOT NULL
        AND (SELECT count(*) FROM prekeys p
             WHERE p.user_id = d.user_id AND p.device_id = d.device_id AND p.kind = 'ec' AND p.is_used = false
            ) < ${watermark}`;
    return Number(row?.n ?? 0);
  }
}
