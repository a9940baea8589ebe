/** Liveness for Docker, compose and Kubernetes: the console process answers (no dependency checks). */
export const dynamic = 'force-dynamic';

export function GET(): Response {
  return Response.json({ status: 'ok' }, { headers: { 'cache-control': 'no-store' } });
}
