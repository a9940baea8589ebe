import Link from 'next/link';
import { Failure } from '@/components/failure';
import { when } from '@/lib/format';
import { param, type SearchParams } from '@/lib/params';
import { withApi } from '@/lib/session';

export default async function KeysPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const lowCursor = param(sp.low, 1000);
  const idCursor = param(sp.ids, 1000);
  const [low, ids] = await Promise.all([
    withApi((api) => api.keys.low.query({ cursor: lowCursor, limit: 25 })),
    withApi((api) => api.keys.identityChanges.query({ cursor: idCursor, limit: 25 })),
  ]);
  return (
    <>
      <h1>Keys</h1>
      <h2>Devices low on one-time prekeys</h2>
      {!low.ok ? (
        <Failure failure={low.failure} />
      ) : (
        <>
          <p className="muted small">Below the watermark of {low.value.watermark} EC or Kyber prekeys.</p>
          <table data-testid="low-keys-table">
            <thead>
              <tr>
                <th>User</th>
                <th className="num">Device</th>
                <th>Device name</th>
                <th className="num">EC</th>
                <th className="num">Kyber</th>
              </tr>
            </thead>
            <tbody>
              {low.value.items.map((k) => (
                <tr key={`${k.userId}:${k.deviceId}`}>
                  <td>
                    <Link href={`/users/${k.userId}`}>{k.username}</Link>
                  </td>
                  <td className="num">{k.deviceId}</td>
                  <td>{k.deviceName ?? '—'}</td>
                  <td className="num">{k.ec}</td>
                  <td className="num">{k.kyber}</td>
                </tr>
              ))}
              {low.value.items.length === 0 ? (
                <tr>
                  <td colSpan={5} className="muted">
                    No device is low on prekeys.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          <PagerLow lowCursor={lowCursor} idCursor={idCursor} next={low.value.nextCursor} />
        </>
      )}
      <h2>Identity key changes</h2>
      {!ids.ok ? (
        <Failure failure={ids.failure} />
      ) : (
        <>
          <table data-testid="identity-table">
            <thead>
              <tr>
                <th>When</th>
                <th>User</th>
                <th className="num">Device</th>
              </tr>
            </thead>
            <tbody>
              {ids.value.items.map((c) => (
                <tr key={c.id}>
                  <td>{when(c.at)}</td>
                  <td>
                    <Link href={`/users/${c.userId}`}>{c.username ?? c.userId}</Link>
                  </td>
                  <td className="num">{c.deviceId ?? '—'}</td>
                </tr>
              ))}
              {ids.value.items.length === 0 ? (
                <tr>
                  <td colSpan={3} className="muted">
                    No identity changes.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          <PagerIds lowCursor={lowCursor} idCursor={idCursor} next={ids.value.nextCursor} />
        </>
      )}
    </>
  );
}

function PagerIds({ lowCursor, idCursor, next }: { lowCursor?: string; idCursor?: string; next: string | null }) {
  const href = (c?: string) => {
    const q = new URLSearchParams();
    if (lowCursor) q.set('low', lowCursor);
    if (c) q.set('ids', c);
    return `/keys${q.size ? `?${q}` : ''}`;
  };
  return (
    <div className="pager">
      {idCursor ? <Link href={href()}>« First page</Link> : null}
      {next ? <Link href={href(next)}>Next page »</Link> : <span className="muted small">End of list</span>}
    </div>
  );
}

function PagerLow({ lowCursor, idCursor, next }: { lowCursor?: string; idCursor?: string; next: string | null }) {
  const href = (c?: string) => {
    const q = new URLSearchParams();
    if (c) q.set('low', c);
    if (idCursor) q.set('ids', idCursor);
    return `/keys${q.size ? `?${q}` : ''}`;
  };
  return (
    <div className="pager">
      {lowCursor ? <Link href={href()}>« First page</Link> : null}
      {next ? <Link href={href(next)}>Next page »</Link> : <span className="muted small">End of list</span>}
    </div>
  );
}
