import { KEMPublicKey, PublicKey } from '@signalapp/libsignal-client';

type Bytes = Uint8Array<ArrayBuffer>;

/** Whether libsignal accepts the bytes as a serialized EC public key. */
export function isEcPublicKey(bytes: Bytes): boolean {
  try {
    PublicKey.deserialize(bytes);
    return true;
  } catch {
    return false;
  }
}

export function isKyberPublicKey(bytes: Bytes): boolean {
  try {
    KEMPublicKey.deserialize(bytes);
    return true;
  } catch {
    return false;
  }
}

/** XEdDSA check by the reference implementation: `signature` by `identityKey` over `message`. */
export function verifySignature(identityKey: Bytes, message: Bytes, signature: Bytes): boolean {
  try {
    return PublicKey.deserialize(identityKey).verify(message, signature);
  } catch {
    return false;
  }
}

export const toBytes = (b64: string): Bytes => new Uint8Array(Buffer.from(b64, 'base64'));
export const toB64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
export const sameBytes = (a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean =>
  !!a && !!b && Buffer.from(a).equals(Buffer.from(b));
