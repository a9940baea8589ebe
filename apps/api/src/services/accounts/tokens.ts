import { createHash, randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../../domain/errors.js';

const ISSUER = 'snaptalker';
const AUDIENCE = 'snaptalker-api';

export interface AccessClaims {
  userId: string;
  deviceId: number;
  /** The device's token version when issued; logout/unlink bump it, voiding older tokens at once. */
  version: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Verified access tokens remembered (by their exact text) until they expire; oldest dropped first beyond this. */
const VERIFIED_CACHE_MAX = 20_000;

const isIntIn = (v: unknown, min: number, max: number): v is number =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** Access tokens are HS256 JWTs through jose; refresh tokens are opaque random strings stored hashed. */
export class Tokens {
  private readonly key: Uint8Array;
  /**
   * A client sends the same access token with every request for its lifetime. Its HMAC check (jose,
   * through WebCrypto's thread pool) was the largest CPU item of a bundle claim, so a token that
   * verified once is recognised by its text until its `exp`: nothing but the exact same string hits,
   * and only successful verifications are kept. Revocation is not decided here: the caller still
   * checks the device's token version and ban state on every request.
   */
  private readonly verified = new Map<string, { claims: AccessClaims; expS: number }>();

  constructor(
    secret: string,
    readonly accessTtlS: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  signAccess(c: AccessClaims): Promise<string> {
    return new SignJWT({ dev: c.deviceId, ver: c.version })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(c.userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.accessTtlS}s`)
      .sign(this.key);
  }

  async verifyAccess(token: string): Promise<AccessClaims> {
    const known = this.verified.get(token);
    if (known) {
      // jose's rule: expired once `exp` is not after the current second.
      if (known.expS > Math.floor(Date.now() / 1000)) return known.claims;
      this.verified.delete(token);
      throw new AppError('UNAUTHORIZED', 'access token expired');
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        // A token without an expiry would live for ever; one without a subject names nobody.
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      const { sub, dev, ver } = payload as { sub?: unknown; dev?: unknown; ver?: unknown };
      // The claims reach SQL as a uuid and integers: anything else is a forged or foreign token.
      if (typeof sub !== 'string' || !UUID.test(sub)) throw new Error('claims');
      if (!isIntIn(dev, 1, 2_147_483_647) || !isIntIn(ver, 0, 2_147_483_647)) throw new Error('claims');
      const claims = { userId: sub, deviceId: dev as number, version: ver as number };
      if (this.verified.size >= VERIFIED_CACHE_MAX) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
      this.verified.set(token, { claims, expS: payload.exp as number });
      return claims;
    } catch (e) {
      const expired = e instanceof joseErrors.JWTExpired;
      throw new AppError('UNAUTHORIZED', expired ? 'access token expired' : 'invalid access token');
    }
  }

  /** 256 random bits, base64url; only its SHA-256 is stored. */
  newRefreshToken(): { token: string; hash: Uint8Array<ArrayBuffer> } {
    const token = randomBytes(32).toString('base64url');
    return { token, hash: hashRefreshToken(token) };
  }
}

export function hashRefreshToken(token: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(token).digest());
}
