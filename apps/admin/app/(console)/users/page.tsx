import Link from 'next/link';
import { Failure } from '@/components/failure';
import { Pager } from '@/components/pager';
import { when } from '@/lib/format';
import { param, type SearchParams } from '@/lib/params';
import { withApi } from '@/lib/session';

export default async function UsersPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const q = param(sp.q);
  const cursor = param(sp.cursor, 1000);
  const r = await withApi((api) => api.users.search.query({ q, cursor, limit: 25 }));
  return (
    <>
      <h1>Users</h1>
      <form className="toolbar" action="/users" method="get">
        <input
          name="q"
          defaultValue={q ?? ''}
          placeholder="username prefix, +E.164 phone or user id"
          aria-label="Search users"
          size={40}
          maxLength={200}
        />
        <button type="submit" className="primary">
          Search
        </button>
      </form>
      {!r.ok ? (
        <Failure failure={r.failure} />
      ) : (
        <>
          <table data-testid="users-table">
            <thead>
              <tr>
                <th>Username</th>
                <th>Phone</th>
                <th>Status</th>
                <th className="num">Devices</th>
                <th>Created</th>
                <th>User id</th>
              </tr>
            </thead>
            <tbody>
              {r.value.items.map((u) => (
                <tr key={u.id}>
                  <td>
                    <Link href={`/users/${u.id}`}>{u.username}</Link>
                  </td>
                  <td className="mono">{u.phoneMasked}</td>
                  <td>
                    {u.banned ? <span className="badge danger">banned</span> : null}{' '}
                    {u.verified ? <span className="badge ok">verified</span> : <span className="badge">pending</span>}
                  </td>
                  <td className="num">{u.devices}</td>
                  <td>{when(u.createdAt)}</td>
                  <td className="mono small">{u.id}</td>
                </tr>
              ))}
              {r.value.items.length === 0 ? (
                <tr>
                  <td colSpan={6} className="muted">
                    No users match.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          <Pager base="/users" params={{ q }} cursor={cursor} nextCursor={r.value.nextCursor} />
        </>
      )}
    </>
  );
}
