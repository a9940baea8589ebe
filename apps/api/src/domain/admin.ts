/** Console roles, ordered: each includes every right of the ones before it. */
export const ADMIN_ROLES = ['viewer', 'operator', 'owner'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/** An authenticated console session: an admin never acts as a user, and a user token never yields one. */
export interface AdminActor {
  adminId: string;
  sessionId: string;
  email: string;
  /** Read from the database on this call, so a demotion applies at once. */
  role: AdminRole;
}
