import 'server-only';
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { type AdminClient, adminApi, type ApiFailure, toApiFailure } from './api';
import { decodeSessionCookie } from './session-cookie';
import type { ConsoleToken } from './tokens';

/** The signed-in admin's console token, or a redirect to the login page. */
export async function requireToken(): Promise<ConsoleToken> {
  const jar = await cookies();
  const token = await decodeSessionCookie((n) => jar.get(n)?.value);
  if (!token || token.accessExpiresAt <= Date.now()) redirect('/login');
  return token;
}

export type Result<T> = { ok: true; value: T } | { ok: false; failure: ApiFailure };

/**
 * Runs `fn` with the admin's API client. An ended session (UNAUTHORIZED) sends the admin to the login
 * page; other failures (FORBIDDEN, NOT_FOUND, outages) come back for the page to show.
 */
export async function withApi<T>(fn: (api: AdminClient, token: ConsoleToken) => Promise<T>): Promise<Result<T>> {
  const token = await requireToken();
  try {
    return { ok: true, value: await fn(adminApi(token.accessToken), token) };
  } catch (e) {
    const failure = toApiFailure(e);
    if (failure.code === 'UNAUTHORIZED') redirect('/login?expired=1');
    return { ok: false, failure };
  }
}
