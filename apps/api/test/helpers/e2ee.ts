import { randomUUID } from 'node:crypto';
import type { Client, TestUser } from './api.js';
import { createUser, linkDevice } from './api.js';
import type { OtpWebhook } from './otp-webhook.js';
import { type BundleJson, SignalDevice } from './signal-client.js';

export interface SignalAccount {
  userId: string;
  sessions: TestUser[];
  devices: SignalDevice[];
}

/** A verified account with `n` devices, each holding real libsignal keys uploaded over REST. */
export async function signalAccount(api: Client, otp: OtpWebhook, n = 1): Promise<SignalAccount> {
  const first = await createUser(api, otp);
  const sessions = [first];
  for (let i = 1; i < n; i++) sessions.push(await linkDevice(api, first));
  const devices: SignalDevice[] = [];
  for (const s of sessions) {
    const d = await SignalDevice.create({ userId: first.userId, deviceId: s.deviceId, identity: devices[0]?.identity });
    const r = await api.post('/keys/upload', await d.generateKeys({ preKeys: 20, kyberPreKeys: 5 }), {
      token: s.accessToken,
    });
    if (r.status !== 200) throw new Error(`upload: ${JSON.stringify(r.body)}`);
    devices.push(d);
  }
  return { userId: first.userId, sessions, devices };
}

/** Encrypts `text` for every device of `to` (fetching bundles where no session exists yet). */
export async function encryptFor(api: Client, from: SignalAccount, fromIndex: number, to: SignalAccount, text: string) {
  const me = from.devices[fromIndex] as SignalDevice;
  const token = from.sessions[fromIndex]?.accessToken;
  const messages = [];
  for (const [i, d] of to.devices.entries()) {
    if (to.userId === from.userId && i === fromIndex) continue;
    if (!(await me.hasSession(to.userId, d.deviceId))) {
      const b = await api.get<BundleJson>(`/keys/bundle/${to.userId}?deviceId=${d.deviceId}`, { token });
      await me.startSession(JSON.parse(JSON.stringify(b.body)), d.deviceId);
    }
    const c = await me.encrypt(to.userId, d.deviceId, text);
    messages.push({ deviceId: d.deviceId, registrationId: d.registrationId, type: c.type, content: c.content });
  }
  return { recipientId: to.userId, clientMessageId: randomUUID(), messages };
}
