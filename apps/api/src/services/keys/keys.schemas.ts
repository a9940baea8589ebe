import { z } from 'zod';
import { base64, base64Out, deviceIdOut, uuid } from '../../domain/schemas.js';

const decodedLength = (s: string) => Buffer.from(s, 'base64').length;

/** Serialized libsignal EC public key: 0x05 + 32 bytes. */
export const ecPublicKey = base64.refine(
  (s) => decodedLength(s) === 33 && Buffer.from(s, 'base64')[0] === 0x05,
  'must be a 33-byte EC public key starting with 0x05',
);
/** Serialized libsignal Kyber1024 public key: 0x08 + 1568 bytes. */
export const kyberPublicKey = base64.refine(
  (s) => decodedLength(s) === 1569 && Buffer.from(s, 'base64')[0] === 0x08,
  'must be a 1569-byte Kyber1024 public key starting with 0x08',
);
export const signature = base64.refine((s) => decodedLength(s) === 64, 'must be a 64-byte signature');
export const keyId = z.number().int().min(0).max(16_777_215);
export const registrationId = z.number().int().min(1).max(16_380);

export const SignedPreKey = z.strictObject({ keyId, publicKey: ecPublicKey, signature });
export const PreKey = z.strictObject({ keyId, publicKey: ecPublicKey });
export const KyberPreKey = z.strictObject({ keyId, publicKey: kyberPublicKey, signature });

/**
 * One keyId twice in one upload is ambiguous (which public key is meant?) and would violate the
 * (device, kind, keyId) key: a 400 naming the index, so nothing of the upload is stored.
 */
function uniqueKeyIds<T extends z.ZodArray<z.ZodType<{ keyId: number }>>>(list: T): T {
  return list.superRefine((keys, ctx) => {
    const seen = new Set<number>();
    keys.forEach((k, i) => {
      if (seen.has(k.keyId))
        ctx.addIssue({ code: 'custom', path: [i, 'keyId'], message: `keyId ${k.keyId} appears twice` });
      seen.add(k.keyId);
    });
  }) as T;
}

export const UploadKeysInput = z.strictObject({
  identityKey: ecPublicKey.optional(),
  registrationId: registrationId.optional(),
  signedPreKey: SignedPreKey.optional(),
  preKeys: uniqueKeyIds(z.array(PreKey).max(100, 'at most 100 keys per call')).optional(),
  kyberPreKeys: uniqueKeyIds(z.array(KyberPreKey).max(100, 'at most 100 keys per call')).optional(),
  kyberLastResortPreKey: KyberPreKey.optional(),
});

export const BundleParams = z.strictObject({ userId: z.uuid({ message: 'must be a UUID' }) });
export const BundleQuery = z.strictObject({ deviceId: z.coerce.number().int().min(1).max(2_147_483_647).optional() });
export const PreKeyIdParams = z.strictObject({ id: z.coerce.number().int().min(0).max(16_777_215) });

export type UploadKeysInput = z.infer<typeof UploadKeysInput>;
export type SignedPreKeyInput = z.infer<typeof SignedPreKey>;

// Replies (the REST response schemas; the OpenAPI document is generated from them).

export const KeyCountsReply = z.object({
  preKeyCount: z.number().int().min(0).meta({ description: "unused one-time EC prekeys of the caller's device" }),
  kyberPreKeyCount: z
    .number()
    .int()
    .min(0)
    .meta({ description: "unused one-time Kyber prekeys of the caller's device" }),
});
const SignedPreKeyOut = z.object({ keyId, publicKey: base64Out, signature: base64Out });
export const DeviceBundleReply = z.object({
  deviceId: deviceIdOut,
  registrationId,
  signedPreKey: SignedPreKeyOut,
  preKey: z
    .object({ keyId, publicKey: base64Out })
    .optional()
    .meta({ description: 'a claimed one-time EC prekey; absent when the device has none left' }),
  kyberPreKey: SignedPreKeyOut.optional().meta({
    description: 'a claimed one-time Kyber prekey, else the last-resort one; absent if the device never uploaded one',
  }),
});
export const BundleReply = z.object({ userId: uuid, identityKey: base64Out, devices: z.array(DeviceBundleReply) });

export type KeyCounts = z.infer<typeof KeyCountsReply>;
export type DeviceBundle = z.infer<typeof DeviceBundleReply>;
export type Bundle = z.infer<typeof BundleReply>;
