import { encode } from 'next-auth/jwt';
import { type NextRequest, NextResponse } from 'next/server';
import { decodeSessionCookie, sessionCookieNames } from './lib/session-cookie';
import { refreshIfNeeded, sessionMaxAgeS } from './lib/tokens';

/** Pages reachable without a session. */
const publicPaths = ['/login', '/api/auth'];

function contentSecurityPolicy(nonce: string, https: boolean): string {
  return [
    "default-src 'self'",
    // Next's own scripts carry the nonce; nothing else may run (no inline handlers, no eval).
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'`,
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    ...(https ? ['upgrade-insecure-requests'] : []),
  ].join('; ');
}

export async function proxy(request: NextRequest): Promise<NextResponse> {
  const { pathname, search } = request.nextUrl;
  const https = request.nextUrl.protocol === 'https:' || request.headers.get('x-forwarded-proto') === 'https';
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64');
  const csp = contentSecurityPolicy(nonce, https);
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set('x-nonce', nonce);
  requestHeaders.set('content-security-policy', csp);

  // Refresh the API access token ahead of its expiry, here where the new cookie can be set on the
  // response and handed to the page rendering this same request (server components cannot set cookies).
  let setCookie: { name: string; value: string } | null = null;
  let signedIn = false;
  const cookieName = sessionCookieNames.find((n) => request.cookies.has(n));
  if (cookieName) {
    const token = await decodeSessionCookie((n) => request.cookies.get(n)?.value);
    const fresh = token ? await refreshIfNeeded(token, 90_000) : null;
    signedIn = fresh !== null && fresh.accessExpiresAt > Date.now();
    if (fresh && token && fresh !== token) {
      const value = await encode({
        token: fresh as unknown as Record<string, unknown>,
        secret: process.env.AUTH_SECRET as string,
        salt: cookieName,
        maxAge: sessionMaxAgeS,
      });
      setCookie = { name: cookieName, value };
      request.cookies.set(cookieName, value);
      requestHeaders.set('cookie', request.cookies.toString());
    } else if (!fresh) {
      request.cookies.delete(cookieName);
      requestHeaders.set('cookie', request.cookies.toString());
    }
  }

  const isPublic = publicPaths.some((p) => pathname === p || pathname.startsWith(`${p}/`));
  let response: NextResponse;
  if (!signedIn && pathname.startsWith('/dashboard/data')) {
    response = NextResponse.json({ error: 'UNAUTHORIZED' }, { status: 401 });
  } else if (!signedIn && !isPublic) {
    const login = new URL('/login', request.url);
    if (pathname !== '/') login.searchParams.set('next', `${pathname}${search}`);
    response = NextResponse.redirect(login);
  } else {
    response = NextResponse.next({ request: { headers: requestHeaders } });
  }
  response.headers.set('Content-Security-Policy', csp);
  if (https) response.headers.set('Strict-Transport-Security', 'max-age=63072000; includeSubDomains');
  const secure = cookieName?.startsWith('__Secure-') ?? https;
  if (setCookie) {
    response.cookies.set(setCookie.name, setCookie.value, {
      httpOnly: true,
      sameSite: 'lax',
      path: '/',
      secure,
      maxAge: sessionMaxAgeS,
    });
  } else if (cookieName && !signedIn) {
    response.cookies.set(cookieName, '', { httpOnly: true, sameSite: 'lax', path: '/', secure, maxAge: 0 });
  }
  return response;
}

export const config = {
  // Everything except Next's static files and the health endpoint.
  matcher: ['/((?!_next/static|_next/image|favicon.ico|health).*)'],
};
