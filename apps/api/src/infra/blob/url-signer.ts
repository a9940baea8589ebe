import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck = 'ok' | 'expired' | 'invalid';

/**
 * Signed, expiring URLs for the blobs the API serves itself (the disk backend): the query carries
 * `expires` (unix seconds) and `signature` = HMAC-SHA256(secret, method, key, expires), base64url.
 * The method is signed, so a download URL cannot be used to upload.
 */
export class BlobUrlSigner {
  constructor(
    private readonly secret: Uint8Array,
    /** The route that serves a key, e.g. `/api/v1/attachments/<id>/blob`. */
    private readonly pathFor: (key: string) => string,
    /** Prefixed to the path when set (PUBLIC_URL): clients then get absolute URLs. */
    private readonly baseUrl: string | undefined,
  ) {}

  private mac(method: string, key: string, expires: string): Buffer {
    return createHmac('sha256', this.secret).update(`${method}\n${key}\n${expires}`).digest();
  }

  sign(method: 'GET' | 'PUT', key: string, expiresAt: Date): string {
    const expires = String(Math.floor(expiresAt.getTime() / 1000));
    const signature = this.mac(method, key, expires).toString('base64url');
    const query = new URLSearchParams({ expires, signature });
    return `${this.baseUrl?.replace(/\/$/, '') ?? ''}${this.pathFor(key)}?${query}`;
  }

  verify(method: 'GET' | 'PUT', key: string, expires: string, signature: string, now = new Date()): SignatureCheck {
    if (!/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{43}$/.test(signature)) return 'invalid';
    // The text is compared, not the decoded bytes: the last of 43 base64url characters has two
    // unused bits, and a decoder would accept four spellings of one signature.
    const given = Buffer.from(signature, 'latin1');
    const expected = Buffer.from(this.mac(method, key, expires).toString('base64url'), 'latin1');
    // Constant time, and checked before the expiry so a forged URL learns nothing from the answer.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return Number(expires) * 1000 <= now.getTime() ? 'expired' : 'ok';
  }
}
