import { cookies } from 'next/headers';
import { adminApi, toApiFailure } from '@/lib/api';
import { decodeSessionCookie } from '@/lib/session-cookie';

export const dynamic = 'force-dynamic';

/** The dashboard's live figures for the page's poller (same-origin, session cookie; no tokens out). */
export async function GET(): Promise<Response> {
  const jar = await cookies();
  const token = await decodeSessionCookie((n) => jar.get(n)?.value);
  const headers = { 'cache-control': 'no-store' };
  if (!token) return Response.json({ error: 'UNAUTHORIZED' }, { status: 401, headers });
  try {
    return Response.json(await adminApi(token.accessToken).dashboard.query(), { headers });
  } catch (e) {
    const f = toApiFailure(e);
    const status = f.code === 'UNAUTHORIZED' ? 401 : f.code === 'FORBIDDEN' ? 403 : 502;
    return Response.json({ error: f.code }, { status, headers });
  }
}
