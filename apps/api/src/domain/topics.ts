/** Broker topics. Payloads are JSON; listeners treat them as wake-ups, the database stays the truth. */
export const deviceTopic = (userId: string, deviceId: number) => `device:${userId}:${deviceId}`;
export const userTopic = (userId: string) => `user:${userId}`;

/** Events about a device's session (not messages): its sockets must close with this code. */
export type SessionEvent =
  | { type: 'session.revoked'; closeCode: 4401; reason: string }
  | { type: 'session.banned'; closeCode: 4403; reason: string };

/** Broadcast with a userId as payload when that user's registered devices change (cache invalidation). */
export const DEVICES_CHANGED_TOPIC = 'devices-changed';

/** Broadcast with a userId as payload when a session of that user ends or its ban state changes. */
export const SESSIONS_CHANGED_TOPIC = 'sessions-changed';

/** A device's signaling session: relayed call frames and "a newer session of this device opened". */
export const callDeviceTopic = (userId: string, deviceId: number) => `call:${userId}:${deviceId}`;
