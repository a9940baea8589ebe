import { decode } from 'next-auth/jwt';
import { asConsoleToken, type ConsoleToken } from './tokens';

/** next-auth's session cookie: `__Secure-` prefixed when the console is served over HTTPS. */
export const sessionCookieNames = ['__Secure-authjs.session-token', 'authjs.session-token'] as const;

/** Decodes next-auth's encrypted session cookie (server side only: the API tokens never leave it). */
export async function decodeSessionCookie(get: (name: string) => string | undefined): Promise<ConsoleToken | null> {
  const secret = process.env.AUTH_SECRET;
  if (!secret) return null;
  for (const name of sessionCookieNames) {
    const value = get(name);
    if (!value) continue;
    try {
      return asConsoleToken(await decode({ token: value, secret, salt: name }));
    } catch {
      return null;
    }
  }
  return null;
}
