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
      });
      const { sub, dev, ver } = payload as { sub?: unknown; dev?: unknown; ver?: unknown };
      if (typeof sub !== 'string' || !Number.isInteger(dev) || !Number.isInteger(ver)) throw new Error('claims');
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
