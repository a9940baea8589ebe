import { Failure } from '@/components/failure';
import { Pager } from '@/components/pager';
import { auditActions } from '@/lib/contract';
import { when } from '@/lib/format';
import { param, type SearchParams } from '@/lib/params';
import { withApi } from '@/lib/session';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export default async function AuditPage({ searchParams }: { searchParams: SearchParams }) {
  const sp = await searchParams;
  const action = param(sp.action, 64);
  const actorId = param(sp.actor, 64);
  const targetId = param(sp.target, 200);
  const cursor = param(sp.cursor, 1000);
  const badActor = actorId !== undefined && !uuid.test(actorId);
  const r = await withApi((api) =>
    api.audit.list.query({ action, actorId: badActor ? undefined : actorId, targetId, cursor, limit: 50 }),
  );
  return (
    <>
      <h1>Audit log</h1>
      <form className="toolbar" action="/audit" method="get">
        <select name="action" defaultValue={action ?? ''} aria-label="Action">
          <option value="">any action</option>
          {auditActions.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
        <input
          name="actor"
          defaultValue={actorId ?? ''}
          placeholder="actor id (uuid)"
          aria-label="Actor id"
          size={38}
        />
        <input name="target" defaultValue={targetId ?? ''} placeholder="target id" aria-label="Target id" size={38} />
        <button type="submit" className="primary">
          Filter
        </button>
      </form>
      {badActor ? <p className="error">The actor filter must be an admin or user id (uuid); it was ignored.</p> : null}
      {!r.ok ? (
        <Failure failure={r.failure} />
      ) : (
        <>
          <table data-testid="audit-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Actor</th>
                <th>Action</th>
                <th>Target</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {r.value.items.map((e) => (
                <tr key={e.id}>
                  <td>{when(e.at)}</td>
                  <td>
                    {e.actorType}
                    {e.actorEmail ? `: ${e.actorEmail}` : e.actorId ? `: ${e.actorId}` : ''}
                  </td>
                  <td className="mono">{e.action}</td>
                  <td className="mono small">{e.targetId ? `${e.targetType ?? ''} ${e.targetId}` : '—'}</td>
                  <td className="mono small">{e.details == null ? '' : JSON.stringify(e.details)}</td>
                </tr>
              ))}
              {r.value.items.length === 0 ? (
                <tr>
                  <td colSpan={5} className="muted">
                    No entries.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          <Pager
            base="/audit"
            params={{ action, actor: actorId, target: targetId }}
            cursor={cursor}
            nextCursor={r.value.nextCursor}
          />
        </>
      )}
    </>
  );
}
