import WebSocketImpl from 'ws';
import { SnapTalkerClient, type Session } from '../client.js';
import { FileKeyValueStore } from '../file-store.js';
import { SignalDevice } from '../protocol/device.js';
import { createTransport, type Transport } from '../transport.js';
import { CliError, EXIT } from './exit.js';
import type { Profile } from './profile.js';

const WebSocket = WebSocketImpl as unknown as typeof globalThis.WebSocket;
/** Refresh when less than this is left, so a command never starts with a token about to expire. */
const REFRESH_MARGIN_MS = 60_000;

export function anonymousTransport(server: string): Transport {
  return createTransport({ url: server, WebSocket, getAccessToken: () => null });
}

/** Stores the tokens of a (new or refreshed) session in the profile. */
export async function saveSession(profile: Profile, s: Omit<Session, 'userId' | 'deviceId'>): Promise<void> {
  profile.state.tokens = {
    accessToken: s.accessToken,
    refreshToken: s.refreshToken,
    accessTokenExpiresAt: new Date(Date.now() + s.expiresIn * 1000).toISOString(),
  };
  await profile.save();
}

/** The profile's session with at least a minute left, refreshing (and saving the rotated tokens) first. */
export async function currentSession(profile: Profile, server: string): Promise<Session> {
  const { account, tokens } = profile.signedIn();
  let left = Date.parse(tokens.accessTokenExpiresAt) - Date.now();
  if (!(left > REFRESH_MARGIN_MS)) {
    const anon = anonymousTransport(server);
    try {
      await saveSession(profile, await anon.trpc.auth.refresh.mutate({ refreshToken: tokens.refreshToken }));
    } finally {
      anon.close();
    }
    left = Date.parse(profile.state.tokens?.accessTokenExpiresAt ?? '') - Date.now();
  }
  const t = profile.signedIn().tokens;
  return { ...account, accessToken: t.accessToken, refreshToken: t.refreshToken, expiresIn: left / 1000 };
}

/** An authenticated transport for calls that need no Signal state (devices, logout). */
export async function authedTransport(profile: Profile, server: string): Promise<Transport> {
  const session = await currentSession(profile, server);
  return createTransport({ url: server, WebSocket, getAccessToken: () => session.accessToken });
}

export async function loadDevice(profile: Profile): Promise<SignalDevice | null> {
  return SignalDevice.load(new FileKeyValueStore(profile.signalPath));
}

/** The SDK client of this profile's device; rotated tokens are saved as they come. */
export async function openClient(profile: Profile, server: string): Promise<SnapTalkerClient> {
  const session = await currentSession(profile, server);
  const device = await loadDevice(profile);
  if (!device || device.userId !== session.userId || device.deviceId !== session.deviceId) {
    throw new CliError(
      EXIT.STATE,
      `profile "${profile.name}" has no Signal keys for this device: run \`snaptalker keys upload\``,
    );
  }
  return SnapTalkerClient.resume({
    url: server,
    WebSocket,
    session,
    device,
    onSession: (s) => saveSession(profile, s),
  });
}
