import NextAuth, { CredentialsSignin, type User } from 'next-auth';
import type { JWT } from 'next-auth/jwt';
import Credentials from 'next-auth/providers/credentials';
import { adminApi, toApiFailure } from './lib/api';
import type { Role } from './lib/contract';
import { asConsoleToken, type ConsoleToken, refreshIfNeeded, sessionMaxAgeS, tokenFromSession } from './lib/tokens';

/** A refused sign-in; `code` (`invalid`, `locked-<seconds>`, `disabled`, `unavailable`) picks the message. */
class LoginRefused extends CredentialsSignin {
  constructor(code: string) {
    super();
    this.code = code;
  }
}

declare module 'next-auth' {
  interface Session {
    admin: { id: string; email: string; role: Role };
  }
}

export const { handlers, auth, signIn, signOut } = NextAuth({
  trustHost: true,
  secret: process.env.AUTH_SECRET,
  session: { strategy: 'jwt', maxAge: sessionMaxAgeS },
  pages: { signIn: '/login', error: '/login' },
  providers: [
    Credentials({
      credentials: { email: { type: 'email' }, password: { type: 'password' } },
      async authorize(raw) {
        const email = typeof raw?.email === 'string' ? raw.email.trim() : '';
        const password = typeof raw?.password === 'string' ? raw.password : '';
        if (!email || !password) throw new LoginRefused('invalid');
        try {
          const s = await adminApi().auth.login.mutate({ email, password });
          // next-auth passes this object to the jwt callback once; only the jwt callback reads it.
          return { id: s.admin.id, email: s.admin.email, console: tokenFromSession(s) } as User;
        } catch (e) {
          const f = toApiFailure(e);
          if (f.code === 'RATE_LIMITED') throw new LoginRefused(`locked-${f.retryAfter ?? 900}`);
          if (f.code === 'FORBIDDEN') throw new LoginRefused('disabled');
          if (f.code === 'INVALID_CREDENTIALS' || f.code === 'UNAUTHORIZED' || f.code === 'VALIDATION_FAILED')
            throw new LoginRefused('invalid');
          throw new LoginRefused('unavailable');
        }
      },
    }),
  ],
  callbacks: {
    async jwt({ token, user }) {
      const fresh = (user as { console?: ConsoleToken } | undefined)?.console;
      if (fresh) return { ...fresh } as JWT;
      const current = asConsoleToken(token);
      if (!current) return null;
      // proxy.ts refreshes earlier (90 s before expiry) on every request; this catches the rest.
      return ((await refreshIfNeeded(current, 20_000)) as JWT | null) ?? null;
    },
    async session({ session, token }) {
      const t = asConsoleToken(token);
      // Only who is signed in reaches the browser (e.g. /api/auth/session): never the API tokens.
      return {
        expires: session.expires,
        admin: { id: t?.adminId ?? '', email: t?.email ?? '', role: t?.role ?? 'viewer' },
      } as typeof session;
    },
  },
  logger: {
    error(e) {
      if ((e as { type?: string }).type === 'CredentialsSignin') return;
      console.error(e);
    },
    warn() {},
  },
});
