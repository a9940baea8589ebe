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
const isIntIn = (v: unknown, min: number, max: number): v is number =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** Access tokens are HS256 JWTs through jose; refresh tokens are opaque random strings stored hashed. */
export class Tokens {
  private readonly key: Uint8Array;

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
      return { userId: sub, deviceId: dev as number, version: ver as number };
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
