import { hkdfSync } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../../domain/errors.js';

const ISSUER = 'snaptalker';
// Its own audience and its own key: a user access token never verifies here, and an admin token
// never verifies as a user's (services/accounts/tokens.ts checks audience snaptalker-api).
const AUDIENCE = 'snaptalker-admin';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AdminClaims {
  adminId: string;
  sessionId: string;
}

/** Short-lived HS256 access tokens (jose) naming the admin and the console session they belong to. */
export class AdminTokens {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    readonly accessTtlS: number,
  ) {
    this.key = new Uint8Array(hkdfSync('sha256', secret, 'snaptalker', 'admin access tokens', 32));
  }

  sign(c: AdminClaims): Promise<string> {
    return new SignJWT({ sid: c.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(c.adminId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.accessTtlS}s`)
      .sign(this.key);
  }

  async verify(token: string): Promise<AdminClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ['exp', 'iat', 'sub', 'sid'],
      });
      const { sub, sid } = payload as { sub?: unknown; sid?: unknown };
      if (typeof sub !== 'string' || !UUID.test(sub) || typeof sid !== 'string' || !UUID.test(sid))
        throw new Error('claims');
      return { adminId: sub, sessionId: sid };
    } catch (e) {
      const expired = e instanceof joseErrors.JWTExpired;
      throw new AppError('UNAUTHORIZED', expired ? 'admin token expired' : 'invalid admin token');
    }
  }
}
