// The API's tRPC `admin` router, as the console uses it (docs/admin.md; the router is the source of truth).
import type { AppRouter } from '@snaptalker/api/trpc';
import type { inferRouterOutputs } from '@trpc/server';

export type Role = 'viewer' | 'operator' | 'owner';
export const roles: Role[] = ['viewer', 'operator', 'owner'];
const rank: Record<Role, number> = { viewer: 0, operator: 1, owner: 2 };
/** Whether `role` is at least `min` (viewer < operator < owner). */
export const atLeast = (role: Role | undefined, min: Role): boolean => role !== undefined && rank[role] >= rank[min];

/** What the admin router answers, inferred from the API's own router: one source of truth. */
type Out = inferRouterOutputs<AppRouter>['admin'];

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
export type AdminSession = Out['auth']['login'];
export type Dashboard = Out['dashboard'];
export type UserRow = Out['users']['search']['items'][number];
export type UserDetail = Out['users']['get'];
export type LowKeyRow = Out['keys']['low']['items'][number];
export type IdentityChange = Out['keys']['identityChanges']['items'][number];
export type ActiveCall = Out['calls']['active']['items'][number];
export type RecentCall = Out['calls']['recent']['items'][number];
export type AuditEntry = Out['audit']['list']['items'][number];
export type AdminRow = Out['admins']['list']['items'][number];

export const auditActions = [
  'admin.login',
  'admin.login_failed',
  'admin.logout',
  'user.ban',
  'user.unban',
  'user.phone_revealed',
  'user.sessions_revoked',
  'device.unlink',
  'keys.identity_changed',
  'admin.create',
  'admin.set_role',
  'admin.set_disabled',
] as const;
