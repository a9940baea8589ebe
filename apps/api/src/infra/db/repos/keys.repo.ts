import type { PrismaClient } from '@snaptalker/db';
import type { Sql } from '../sql.js';
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

/**
 * Two CTEs of CLAIM_BUNDLES: `<name>_pick` numbers up to `want.n` unused keys of `kind` per device
 * (locked, skipping keys another claim holds), `<name>` marks them used and returns them.
 */
const claimOneTime = (name: string, kind: 'ec' | 'kyber', extra: string) => `${name}_pick AS (
    SELECT w.user_id, w.device_id, p.id, row_number() OVER (PARTITION BY w.user_id, w.device_id ORDER BY p.id)::int AS rn
    FROM want w CROSS JOIN LATERAL (
      SELECT p.id FROM prekeys p
      WHERE p.user_id = w.user_id AND p.device_id = w.device_id AND p.kind = '${kind}' AND p.is_used = false
      ORDER BY p.user_id, p.device_id, p.kind, p.is_used
      LIMIT w.n FOR UPDATE SKIP LOCKED) p
  ), ${name} AS (
    UPDATE prekeys SET is_used = true FROM ${name}_pick WHERE prekeys.id = ${name}_pick.id
    RETURNING prekeys.user_id, prekeys.device_id, prekeys.prekey_id, prekeys.public_key${extra}, ${name}_pick.rn
  )`;

/**
 * The bundles of many requests in one statement ($1 targets, $2 device ids or null, $3 the count
 * cap). Requests for the same device are numbered (`rn`) and that device gets as many one-time
 * keys as it has requests, picked with FOR UPDATE SKIP LOCKED: no two requests — in this statement
 * or in another one running at once — get the same key. The count of unused EC keys is taken in the
 * statement's snapshot (before these claims), capped at $3 plus the requests for the device, so
 * that request `rn` learns how many were left before its own claim.
 */
const CLAIM_BUNDLES = `
  WITH req AS (
    SELECT r.ord::int AS ord, r.user_id, r.device_id
    FROM unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS r(user_id, device_id, ord)
  ), d AS (
    SELECT req.ord, d.user_id, d.device_id, d.registration_id,
           s.signed_prekey_id, s.signed_prekey_public, s.signed_prekey_signature,
           row_number() OVER (PARTITION BY d.user_id, d.device_id ORDER BY req.ord)::int AS rn
    FROM req
    JOIN devices d ON d.user_id = req.user_id AND d.registration_id IS NOT NULL
                  AND (req.device_id IS NULL OR d.device_id = req.device_id)
    JOIN signed_prekeys s ON s.user_id = d.user_id AND s.device_id = d.device_id
  ), want AS (
    SELECT user_id, device_id, count(*)::int AS n FROM d GROUP BY user_id, device_id
  ), ${claimOneTime('ec', 'ec', '')}, ${claimOneTime('ky', 'kyber', ', prekeys.signature')},
  un AS (
    SELECT w.user_id, w.device_id, c.n FROM want w CROSS JOIN LATERAL (
      SELECT count(*)::int AS n FROM (
        SELECT 1 FROM prekeys
        WHERE user_id = w.user_id AND device_id = w.device_id AND kind = 'ec' AND is_used = false
        ORDER BY user_id, device_id, kind, is_used
        LIMIT $3::int + w.n - 1) s) c
  )
  SELECT req.ord, u.id IS NOT NULL AS "userExists", u.identity_key_public AS identity, d.device_id AS "deviceId", d.registration_id AS "registrationId",
         d.signed_prekey_id AS "spkId", d.signed_prekey_public AS "spkKey", d.signed_prekey_signature AS "spkSig",
         ec.prekey_id AS "ecId", ec.public_key AS "ecKey",
         ky.prekey_id AS "kyId", ky.public_key AS "kyKey", ky.signature AS "kySig",
         lr.prekey_id AS "lrId", lr.public_key AS "lrKey", lr.signature AS "lrSig",
         un.n - (d.rn - 1) AS unused
  FROM req
  LEFT JOIN users u ON u.id = req.user_id
  LEFT JOIN d ON d.ord = req.ord
  LEFT JOIN ec ON ec.user_id = d.user_id AND ec.device_id = d.device_id AND ec.rn = d.rn
  LEFT JOIN ky ON ky.user_id = d.user_id AND ky.device_id = d.device_id AND ky.rn = d.rn
  LEFT JOIN un ON un.user_id = d.user_id AND un.device_id = d.device_id
  LEFT JOIN LATERAL (
    SELECT prekey_id, public_key, signature FROM prekeys
    WHERE user_id = d.user_id AND device_id = d.device_id AND kind = 'kyber_last_resort' LIMIT 1) lr ON true
  ORDER BY req.ord, d.device_id`;

/** A row of CLAIM_BUNDLES: one device of one request (or a request's only row, without a device). */
interface ClaimRow {
  ord: number;
  userExists: boolean;
  identity: Bytes | null;
  deviceId: number | null;
  registrationId: number | null;
  spkId: number | null;
  spkKey: Bytes | null;
  spkSig: Bytes | null;
  ecId: number | null;
  ecKey: Bytes | null;
  kyId: number | null;
  kyKey: Bytes | null;
  kySig: Bytes | null;
  lrId: number | null;
  lrKey: Bytes | null;
  lrSig: Bytes | null;
  unused: number | null;
}

/** One request of a batched claim: a user's bundle, or one device's. */
export interface ClaimRequest {
  userId: string;
  deviceId?: number;
}

/** What a claim found: the identity and every serving device with its claimed keys; null: no such user. */
export type ClaimedBundle = {
  identity: Bytes | null;
  devices: Array<ClaimableDevice & { preKey: StoredKey | null; kyber: StoredKey | null; unusedBefore: number }>;
} | null;

export class KeysRepo {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly sql?: Sql,
  ) {}

  /**
   * The bundles of many claims in ONE prepared statement (see CLAIM_BUNDLES), one result per
   * request in request order: the identity, every serving device with its signed prekey, a claimed
   * one-time EC key and a claimed one-time Kyber key (else the last-resort one), and the count of
   * unused EC keys before this claim (capped at `cap`).
   */
  async claimBundles(requests: ClaimRequest[], cap: number): Promise<ClaimedBundle[]> {
    if (!this.sql) throw new Error('claimBundles needs the SQL runner');
    const rows = await this.sql.query<ClaimRow>('claim_bundles', CLAIM_BUNDLES, [
      requests.map((r) => r.userId),
      requests.map((r) => r.deviceId ?? null),
      cap,
    ]);
    const byRequest = new Map<number, typeof rows>();
    for (const r of rows) {
      const list = byRequest.get(r.ord) ?? [];
      byRequest.set(r.ord, list);
      list.push(r);
    }
    // ORDINALITY counts from 1.
    return requests.map((_, i) => this.bundleOf(byRequest.get(i + 1) ?? []));
  }

  private bundleOf(rows: ClaimRow[]): ClaimedBundle {
    const first = rows[0];
    if (!first?.userExists) return null;
    const devices = rows.flatMap((r) => {
      if (r.deviceId === null || r.registrationId === null || r.spkId === null || !r.spkKey || !r.spkSig) return [];
      const kyber =
        r.kyId !== null && r.kyKey && r.kySig
          ? { keyId: r.kyId, publicKey: r.kyKey, signature: r.kySig }
          : r.lrId !== null && r.lrKey && r.lrSig
            ? { keyId: r.lrId, publicKey: r.lrKey, signature: r.lrSig }
            : null;
      return [
        {
          deviceId: r.deviceId,
          registrationId: r.registrationId,
          signedPreKey: { keyId: r.spkId, publicKey: r.spkKey, signature: r.spkSig },
          preKey: r.ecId !== null && r.ecKey ? { keyId: r.ecId, publicKey: r.ecKey } : null,
          kyber,
          unusedBefore: r.unused ?? 0,
        },
      ];
    });
    return { identity: first.identity, devices };
  }

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
