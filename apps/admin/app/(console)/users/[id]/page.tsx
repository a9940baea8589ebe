import Link from 'next/link';
import { userAction } from '@/app/actions';
import { auth } from '@/auth';
import { ActionButton } from '@/components/action-button';
import { Failure } from '@/components/failure';
import { atLeast } from '@/lib/contract';
import { age, bytes, when } from '@/lib/format';
import { withApi } from '@/lib/session';

export default async function UserPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const session = await auth();
  const operator = atLeast(session?.admin.role, 'operator');
  const r = await withApi((api) => api.users.get.query({ userId: id }));
  if (!r.ok)
    return (
      <>
        <h1>User</h1>
        <Failure failure={r.failure} />
        <Link href="/users">Back to users</Link>
      </>
    );
  const u = r.value;
  const now = Date.now();
  return (
    <>
      <h1>
        User <span data-testid="user-name">{u.username}</span>{' '}
        {u.banned ? (
          <span className="badge danger" data-testid="banned-badge">
            banned
          </span>
        ) : null}
      </h1>
      <dl className="facts">
        <dt>User id</dt>
        <dd className="mono">{u.id}</dd>
        <dt>Phone</dt>
        <dd className="mono">{u.phoneMasked}</dd>
        <dt>Verified</dt>
        <dd>{u.verified ? 'yes' : 'no'}</dd>
        <dt>Created</dt>
        <dd>{when(u.createdAt)}</dd>
        <dt>Attachments</dt>
        <dd data-testid="attachment-usage">
          {u.attachments.count} stored, {bytes(u.attachments.bytes)}
        </dd>
      </dl>

      <h2>Actions</h2>
      {operator ? (
        <div className="actions" data-testid="user-actions">
          {u.banned ? (
            <ActionButton
              action={userAction}
              fields={{ action: 'unban', userId: u.id }}
              label="Unban"
              confirm="Unban this user?"
              testId="unban"
            />
          ) : (
            <ActionButton
              action={userAction}
              fields={{ action: 'ban', userId: u.id }}
              label="Ban"
              confirm="Ban this user? Their sockets close at once and every request is refused."
              danger
              testId="ban"
            />
          )}
          <ActionButton
            action={userAction}
            fields={{ action: 'revokeSessions', userId: u.id }}
            label="Revoke all sessions"
            confirm="Sign this user out on every device?"
            danger
            testId="revoke"
          />
          <ActionButton
            action={userAction}
            fields={{ action: 'revealPhone', userId: u.id }}
            label="Reveal phone"
            confirm="Reveal the full number? This is written to the audit log."
            testId="reveal"
          />
        </div>
      ) : (
        <p className="muted" data-testid="read-only">
          Your role ({session?.admin.role}) can view this user but not act on them.
        </p>
      )}

      <h2>Devices</h2>
      <table data-testid="devices-table">
        <thead>
          <tr>
            <th className="num">Device</th>
            <th>Name</th>
            <th>Created</th>
            <th>Last seen</th>
            <th className="num">Prekeys EC</th>
            <th className="num">Prekeys Kyber</th>
            <th>Signed prekey age</th>
            {operator ? <th /> : null}
          </tr>
        </thead>
        <tbody>
          {u.devices.map((d) => (
            <tr key={d.deviceId} data-testid={`device-${d.deviceId}`}>
              <td className="num">{d.deviceId}</td>
              <td data-testid="device-name">{d.name ?? <span className="muted">(unnamed)</span>}</td>
              <td>{when(d.createdAt)}</td>
              <td>{when(d.lastSeenAt)}</td>
              <td className="num">{d.prekeys.ec}</td>
              <td className="num">{d.prekeys.kyber}</td>
              <td>{d.signedPreKeyCreatedAt ? age(d.signedPreKeyCreatedAt, now) : '—'}</td>
              {operator ? (
                <td>
                  {d.deviceId >= 2 ? (
                    <ActionButton
                      action={userAction}
                      fields={{ action: 'unlinkDevice', userId: u.id, deviceId: String(d.deviceId) }}
                      label="Unlink"
                      confirm={`Unlink device ${d.deviceId}?`}
                      danger
                      testId={`unlink-${d.deviceId}`}
                    />
                  ) : (
                    <span className="muted small">primary</span>
                  )}
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Recent calls</h2>
      <table>
        <thead>
          <tr>
            <th>Started</th>
            <th>Direction</th>
            <th>Peer</th>
            <th>Media</th>
            <th>State</th>
            <th>Answered</th>
            <th>Ended</th>
            <th>End reason</th>
          </tr>
        </thead>
        <tbody>
          {u.calls.map((c) => (
            <tr key={c.id}>
              <td>{when(c.startedAt)}</td>
              <td>{c.direction}</td>
              <td>
                <Link href={`/users/${c.peerId}`}>{c.peerUsername ?? c.peerId}</Link>
              </td>
              <td>{c.media}</td>
              <td>{c.state}</td>
              <td>{when(c.answeredAt)}</td>
              <td>{when(c.endedAt)}</td>
              <td>{c.endReason ?? '—'}</td>
            </tr>
          ))}
          {u.calls.length === 0 ? (
            <tr>
              <td colSpan={8} className="muted">
                No calls.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </>
  );
}
