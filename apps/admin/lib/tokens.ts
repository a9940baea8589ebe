import type { JWT } from 'next-auth/jwt';
import { adminApi, toApiFailure } from './api';
import type { AdminSession, Role } from './contract';

/** What the console keeps in next-auth's encrypted session cookie (never sent to the browser in clear). */
export interface ConsoleToken {
  adminId: string;
  email: string;
  role: Role;
  accessToken: string;
  refreshToken: string;
  /** When the API access token expires, ms since the epoch. */
  accessExpiresAt: number;
}

export const sessionMaxAgeS = 8 * 60 * 60;

export function tokenFromSession(s: AdminSession): ConsoleToken {
  return {
    adminId: s.admin.id,
    email: s.admin.email,
    role: s.admin.role,
    accessToken: s.accessToken,
    refreshToken: s.refreshToken,
    accessExpiresAt: Date.now() + s.expiresIn * 1000,
  };
}

export function asConsoleToken(t: JWT | null | undefined): ConsoleToken | null {
  const c = t as Partial<ConsoleToken> | null | undefined;
  if (!c || typeof c.accessToken !== 'string' || typeof c.refreshToken !== 'string') return null;
  if (typeof c.adminId !== 'string' || typeof c.accessExpiresAt !== 'number') return null;
  return c as ConsoleToken;
}

// Refresh tokens are single use: concurrent requests that all see a token near expiry must share one
// refresh call, or the second use would end the session. Keyed by the refresh token being spent.
const inflight = new Map<string, Promise<ConsoleToken | null>>();

/**
 * The token unchanged while its access token has more than `marginMs` left; else a refreshed one
 * (admin.auth.refresh), or null when the API ended the session.
 */
export async function refreshIfNeeded(token: ConsoleToken, marginMs: number): Promise<ConsoleToken | null> {
  if (token.accessExpiresAt - Date.now() > marginMs) return token;
  let p = inflight.get(token.refreshToken);
  if (!p) {
    p = adminApi()
      .auth.refresh.mutate({ refreshToken: token.refreshToken })
      .then(
        (s) => tokenFromSession(s),
        (e) => {
          const f = toApiFailure(e);
          // Unreachable API: keep the session; the page shows the outage and the next request retries.
          if (f.code === 'UNAVAILABLE' || f.code === 'INTERNAL') return token;
          return null;
        },
      );
    inflight.set(token.refreshToken, p);
    const key = token.refreshToken;
    setTimeout(() => inflight.delete(key), 60_000).unref?.();
  }
  return p;
}
