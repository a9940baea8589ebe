import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { b64, fromB64 } from './base64.js';

/**
 * What an attachment message carries inside the end-to-end encrypted envelope: the server sees only
 * `attachmentId` (when the recipient downloads); `key` and `digest` never leave the E2EE channel.
 */
export interface AttachmentPointer {
  attachmentId: string;
  /** 64 bytes, base64: AES-256 key, then HMAC-SHA256 key. */
  key: string;
  /** SHA-256 of the uploaded blob, base64. */
  digest: string;
  /** Plaintext bytes. */
  size: number;
  contentType: string;
}

export interface EncryptedAttachment {
  blob: Uint8Array<ArrayBuffer>;
  key: Uint8Array<ArrayBuffer>;
  digest: Uint8Array<ArrayBuffer>;
}

const IV_BYTES = 16;
const MAC_BYTES = 32;

/**
 * Signal's bucketed padding: sizes are rounded up to a power of 1.05 (at least 541 bytes), so the
 * stored size tells the server little about the plaintext's. The pointer keeps the real size.
 */
export function paddedSize(size: number): number {
  return Math.max(541, Math.floor(1.05 ** Math.ceil(Math.log(Math.max(size, 1)) / Math.log(1.05))));
}

/**
 * Attachment encryption as Signal does it: a fresh 64-byte key (AES-256 + HMAC-SHA256), the
 * plaintext zero-padded to its bucket, then `iv ‖ AES-256-CBC(PKCS#7) ‖ HMAC-SHA256(iv ‖ ciphertext)`
 * (encrypt-then-MAC), and the SHA-256 digest of that whole blob.
 */
export function encryptAttachment(plaintext: Uint8Array): EncryptedAttachment {
  const key = randomBytes(64);
  const iv = randomBytes(IV_BYTES);
  const padded = Buffer.alloc(paddedSize(plaintext.byteLength));
  padded.set(plaintext);
  const cipher = createCipheriv('aes-256-cbc', key.subarray(0, 32), iv);
  const body = Buffer.concat([iv, cipher.update(padded), cipher.final()]);
  const mac = createHmac('sha256', key.subarray(32)).update(body).digest();
  const blob = new Uint8Array(Buffer.concat([body, mac]));
  return { blob, key: new Uint8Array(key), digest: new Uint8Array(createHash('sha256').update(blob).digest()) };
}

export class AttachmentIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttachmentIntegrityError';
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && timingSafeEqual(a, b);

/** Checks the digest and the MAC (before decrypting anything), decrypts and strips the padding. */
export function decryptAttachment(
  blob: Uint8Array,
  pointer: Pick<AttachmentPointer, 'key' | 'digest' | 'size'>,
): Uint8Array {
  const key = fromB64(pointer.key);
  if (key.length !== 64) throw new AttachmentIntegrityError('attachment key must be 64 bytes');
  if (!sameBytes(createHash('sha256').update(blob).digest(), fromB64(pointer.digest))) {
    throw new AttachmentIntegrityError('attachment digest mismatch: the blob is not the one that was sent');
  }
  if (blob.length < IV_BYTES + 16 + MAC_BYTES) throw new AttachmentIntegrityError('attachment blob too short');
  const body = blob.subarray(0, blob.length - MAC_BYTES);
  const mac = createHmac('sha256', key.subarray(32)).update(body).digest();
  if (!sameBytes(mac, blob.subarray(blob.length - MAC_BYTES))) {
    throw new AttachmentIntegrityError('attachment MAC mismatch');
  }
  const decipher = createDecipheriv('aes-256-cbc', key.subarray(0, 32), body.subarray(0, IV_BYTES));
  const padded = Buffer.concat([decipher.update(body.subarray(IV_BYTES)), decipher.final()]);
  if (pointer.size > padded.length) throw new AttachmentIntegrityError('attachment shorter than its declared size');
  return new Uint8Array(padded.subarray(0, pointer.size));
}

/**
 * An attachment message's plaintext: a NUL, a tag, then the pointer as JSON. A text message never
 * starts with NUL, so the two kinds cannot be confused.
 */
const ATTACHMENT_TAG = '\u0000snaptalker-attachment-v1\n';

export function encodeAttachmentMessage(pointer: AttachmentPointer): string {
  return ATTACHMENT_TAG + JSON.stringify(pointer);
}

/** The pointer of an attachment message, or null for a text message (or a malformed pointer). */
export function decodeAttachmentMessage(text: string): AttachmentPointer | null {
  if (!text.startsWith(ATTACHMENT_TAG)) return null;
  try {
    const p = JSON.parse(text.slice(ATTACHMENT_TAG.length)) as Partial<AttachmentPointer>;
    if (
      typeof p.attachmentId !== 'string' ||
      typeof p.key !== 'string' ||
      typeof p.digest !== 'string' ||
      typeof p.size !== 'number' ||
      typeof p.contentType !== 'string'
    ) {
      return null;
    }
    return {
      attachmentId: p.attachmentId,
      key: p.key,
      digest: p.digest,
      size: p.size,
      contentType: p.contentType,
    };
  } catch {
    return null;
  }
}

export const pointerFor = (
  attachmentId: string,
  e: EncryptedAttachment,
  size: number,
  contentType: string,
): AttachmentPointer => ({ attachmentId, key: b64(e.key), digest: b64(e.digest), size, contentType });
