// The API's tRPC `admin` router, as the console uses it (docs/admin.md; the router is the source of truth).

export type Role = 'viewer' | 'operator' | 'owner';
export const roles: Role[] = ['viewer', 'operator', 'owner'];
const rank: Record<Role, number> = { viewer: 0, operator: 1, owner: 2 };
/** Whether `role` is at least `min` (viewer < operator < owner). */
export const atLeast = (role: Role | undefined, min: Role): boolean => role !== undefined && rank[role] >= rank[min];

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface AdminSession {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  admin: { id: string; email: string; role: Role };
}

export interface Dashboard {
  at: string;
  users: number;
  devices: number;
  bannedUsers: number;
  queueDepth: number;
  activeCalls: number;
  attachmentBytes: number;
  attachmentCount: number;
  sockets: { messages: number; calls: number };
  messagesPerSecond: number;
  deliveryMs: { p50: number | null; p99: number | null };
  nodes: { id: string; messageSockets: number; callSockets: number; messagesPerSecond: number; seenAt: string }[];
  series: {
    at: string;
    messagesPerSecond: number;
    deliveryP99Ms: number | null;
    messageSockets: number;
    callSockets: number;
  }[];
}

export interface UserRow {
  id: string;
  username: string;
  phoneMasked: string;
  verified: boolean;
  banned: boolean;
  createdAt: string;
  devices: number;
}

export interface UserDetail {
  id: string;
  username: string;
  phoneMasked: string;
  verified: boolean;
  banned: boolean;
  createdAt: string;
  devices: {
    deviceId: number;
    name: string | null;
    createdAt: string;
    lastSeenAt: string;
    prekeys: { ec: number; kyber: number };
    signedPreKeyCreatedAt: string | null;
  }[];
  calls: {
    id: string;
    direction: 'outgoing' | 'incoming';
    peerId: string;
    peerUsername: string | null;
    media: string;
    state: string;
    startedAt: string;
    answeredAt: string | null;
    endedAt: string | null;
    endReason: string | null;
  }[];
  attachments: { count: number; bytes: number };
}

export interface LowKeyRow {
  userId: string;
  username: string;
  deviceId: number;
  deviceName: string | null;
  ec: number;
  kyber: number;
}

export interface IdentityChange {
  id: string;
  at: string;
  userId: string;
  username: string | null;
  deviceId: number | null;
}

export interface ActiveCall {
  id: string;
  callerId: string;
  callerUsername: string | null;
  calleeId: string;
  calleeUsername: string | null;
  media: string;
  state: string;
  startedAt: string;
  answeredAt: string | null;
}

export interface RecentCall extends ActiveCall {
  endedAt: string | null;
  endReason: string | null;
  durationS: number | null;
}

export interface AuditEntry {
  id: string;
  at: string;
  actorType: 'admin' | 'user' | 'system';
  actorId: string | null;
  actorEmail: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details?: unknown;
}

export interface AdminRow {
  id: string;
  email: string;
  role: Role;
  disabled: boolean;
  locked: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

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
