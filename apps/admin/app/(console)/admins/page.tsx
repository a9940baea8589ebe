import { createAdmin, updateAdmin } from '@/app/actions';
import { auth } from '@/auth';
import { ActionButton } from '@/components/action-button';
import { ActionForm } from '@/components/action-form';
import { Failure } from '@/components/failure';
import { atLeast, roles } from '@/lib/contract';
import { when } from '@/lib/format';
import { withApi } from '@/lib/session';

export default async function AdminsPage() {
  const session = await auth();
  if (!atLeast(session?.admin.role, 'owner'))
    return (
      <>
        <h1>Admins</h1>
        <Failure failure={{ code: 'FORBIDDEN', message: 'only owners manage admins' }} />
      </>
    );
  const me = session?.admin.id;
  const r = await withApi((api) => api.admins.list.query());
  return (
    <>
      <h1>Admins</h1>
      {!r.ok ? (
        <Failure failure={r.failure} />
      ) : (
        <table data-testid="admins-table">
          <thead>
            <tr>
              <th>Email</th>
              <th>Role</th>
              <th>Status</th>
              <th>Created</th>
              <th>Last login</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {r.value.items.map((a) => (
              <tr key={a.id} data-testid={`admin-row-${a.email}`}>
                <td>{a.email}</td>
                <td>
                  {a.id === me ? (
                    a.role
                  ) : (
                    <ActionForm action={updateAdmin} testId="set-role">
                      <input type="hidden" name="adminId" value={a.id} />
                      <input type="hidden" name="action" value="setRole" />
                      <select name="role" defaultValue={a.role} aria-label={`Role of ${a.email}`}>
                        {roles.map((role) => (
                          <option key={role} value={role}>
                            {role}
                          </option>
                        ))}
                      </select>
                      <button type="submit">Change role</button>
                    </ActionForm>
                  )}
                </td>
                <td>
                  {a.disabled ? (
                    <span className="badge danger">disabled</span>
                  ) : (
                    <span className="badge ok">active</span>
                  )}{' '}
                  {a.locked ? <span className="badge danger">locked</span> : null}
                </td>
                <td>{when(a.createdAt)}</td>
                <td>{when(a.lastLoginAt)}</td>
                <td>
                  {a.id === me ? (
                    <span className="muted small">you</span>
                  ) : a.disabled ? (
                    <ActionButton
                      action={updateAdmin}
                      fields={{ adminId: a.id, action: 'enable' }}
                      label="Enable"
                      confirm={`Enable ${a.email}?`}
                    />
                  ) : (
                    <ActionButton
                      action={updateAdmin}
                      fields={{ adminId: a.id, action: 'disable' }}
                      label="Disable"
                      confirm={`Disable ${a.email} and end their sessions?`}
                      danger
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Create an admin</h2>
      <ActionForm action={createAdmin} testId="create-admin">
        <input name="email" type="email" placeholder="email" aria-label="New admin email" required />
        <input
          name="password"
          type="password"
          placeholder="password (12+ characters)"
          aria-label="New admin password"
          minLength={12}
          maxLength={256}
          required
          autoComplete="new-password"
        />
        <select name="role" defaultValue="viewer" aria-label="New admin role">
          {roles.map((role) => (
            <option key={role} value={role}>
              {role}
            </option>
          ))}
        </select>
        <button type="submit" className="primary">
          Create
        </button>
      </ActionForm>
    </>
  );
}
