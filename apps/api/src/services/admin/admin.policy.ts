import { type AdminActor, ADMIN_ROLES, type AdminRole } from '../../domain/admin.js';
import { AppError } from '../../domain/errors.js';

/**
 * Who may do what: the one table every admin action is checked against, in the service layer (the
 * console hides what a role cannot do, but hiding is not the control). Reads are for every role;
 * acting on users (and seeing a full phone number) needs operator; managing admins needs owner.
 */
export const ADMIN_POLICY = {
  'me.read': 'viewer',
  'dashboard.read': 'viewer',
  'users.read': 'viewer',
  'keys.read': 'viewer',
  'calls.read': 'viewer',
  'audit.read': 'viewer',
  'users.revealPhone': 'operator',
  'users.ban': 'operator',
  'users.unban': 'operator',
  'users.revokeSessions': 'operator',
  'users.unlinkDevice': 'operator',
  'admins.read': 'owner',
  'admins.create': 'owner',
  'admins.setRole': 'owner',
  'admins.setDisabled': 'owner',
} as const satisfies Record<string, AdminRole>;

export type AdminAction = keyof typeof ADMIN_POLICY;

export const roleRank = (r: AdminRole): number => ADMIN_ROLES.indexOf(r);

export function can(role: AdminRole, action: AdminAction): boolean {
  return roleRank(role) >= roleRank(ADMIN_POLICY[action]);
}

export function authorize(actor: AdminActor, action: AdminAction): void {
  if (!can(actor.role, action)) {
    throw new AppError('FORBIDDEN', `${action} needs the ${ADMIN_POLICY[action]} role`, {
      required: ADMIN_POLICY[action],
      role: actor.role,
    });
  }
}
