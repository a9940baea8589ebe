import Link from 'next/link';
import { Failure } from '@/components/failure';
import { Pager } from '@/components/pager';
import { duration, when } from '@/lib/format';
import { param, type SearchParams } from '@/lib/params';
import { withApi } from '@/lib/session';

function Party({ id, name }: { id: string; name: string | null }) {
  return <Link href={`/users/${id}`}>{name ?? id}</Link>;
}

interface CallRow {
  callerId: string;
  callerUsername: string | null;
  calleeId: string;
  calleeUsername: string | null;
  media: string;
  state: string;
  startedAt: string | null;
}

/** The columns both tables start with: the two parties, media, state, when it started. */
function CallCells({ c }: { c: CallRow }) {
  return (
    <>
      <td>
        <Party id={c.callerId} name={c.callerUsername} />
      </td>
      <td>
        <Party id={c.calleeId} name={c.calleeUsername} />
      </td>
      <td>{c.media}</td>
      <td>{c.state}</td>
      <td>{when(c.startedAt)}</td>
    </>
  );
}

export default async function CallsPage({ searchParams }: { searchParams: SearchParams }) {
  const cursor = param((await searchParams).cursor, 1000);
  const [active, recent] = await Promise.all([
    withApi((api) => api.calls.active.query()),
    withApi((api) => api.calls.recent.query({ cursor, limit: 25 })),
  ]);
  return (
    <>
      <h1>Calls</h1>
      <h2>Active</h2>
      {!active.ok ? (
        <Failure failure={active.failure} />
      ) : (
        <table data-testid="active-calls-table">
          <thead>
            <tr>
              <th>Caller</th>
              <th>Callee</th>
              <th>Media</th>
              <th>State</th>
              <th>Started</th>
              <th>Answered</th>
            </tr>
          </thead>
          <tbody>
            {active.value.items.map((c) => (
              <tr key={c.id}>
                <CallCells c={c} />
                <td>{when(c.answeredAt)}</td>
              </tr>
            ))}
            {active.value.items.length === 0 ? (
              <tr>
                <td colSpan={6} className="muted">
                  No active calls.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      )}
      <h2>Recent</h2>
      {!recent.ok ? (
        <Failure failure={recent.failure} />
      ) : (
        <>
          <table data-testid="recent-calls-table">
            <thead>
              <tr>
                <th>Caller</th>
                <th>Callee</th>
                <th>Media</th>
                <th>State</th>
                <th>Started</th>
                <th>Ended</th>
                <th>Duration</th>
                <th>End reason</th>
              </tr>
            </thead>
            <tbody>
              {recent.value.items.map((c) => (
                <tr key={c.id}>
                  <CallCells c={c} />
                  <td>{when(c.endedAt)}</td>
                  <td>{duration(c.durationS)}</td>
                  <td>{c.endReason ?? '—'}</td>
                </tr>
              ))}
              {recent.value.items.length === 0 ? (
                <tr>
                  <td colSpan={8} className="muted">
                    No calls yet.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          <Pager base="/calls" params={{}} cursor={cursor} nextCursor={recent.value.nextCursor} />
        </>
      )}
    </>
  );
}
