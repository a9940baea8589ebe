import { type Client, createUser, linkDevice, type TestUser } from '../helpers/api.js';
import type { OtpWebhook } from '../helpers/otp-webhook.js';
import { type Frame, TestSocket } from '../helpers/ws-client.js';

export const SIGNAL_PATH = '/api/v1/calls/signal';

/** A signaling socket that is ready to be rung (its `ping` got a `pong`, so the session is open). */
export async function signal(baseUrl: string, user: TestUser, via: 'header' | 'query' = 'header'): Promise<TestSocket> {
  const s = await TestSocket.connect(baseUrl, user.accessToken, via, SIGNAL_PATH);
  s.send({ type: 'ping' });
  await s.next((f) => f.type === 'pong', 15_000);
  return s;
}

export const ofCall =
  (callId: string, type?: string) =>
  (f: Frame): boolean =>
    f.callId === callId && (type === undefined || f.type === type);

/** Asserts that no frame about `callId` arrived, after a ping round trip has flushed what was in flight. */
export async function nothingAbout(s: TestSocket, callId: string, since = 0, settleMs = 300): Promise<void> {
  await new Promise((r) => setTimeout(r, settleMs));
  s.send({ type: 'ping' });
  await s.next((f) => f.type === 'pong', 15_000);
  const about = s.frames.slice(since).filter((f) => f.callId === callId);
  if (about.length) throw new Error(`unexpected frames about ${callId}: ${JSON.stringify(about)}`);
}

export async function users(api: Client, otp: OtpWebhook, n: number): Promise<TestUser[]> {
  return Promise.all(Array.from({ length: n }, () => createUser(api, otp)));
}

export { linkDevice };

export const SDP_OFFER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=offer (opaque to the server)\r\n';
export const SDP_ANSWER = 'v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=answer (opaque to the server)\r\n';

/** Waits until any frame received so far (consumed or not) matches. */
export async function seen(s: TestSocket, pred: (f: Frame) => boolean, timeoutMs = 15_000): Promise<Frame> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const f = s.frames.find(pred);
    if (f) return f;
    if (Date.now() > end) throw new Error(`no matching frame; got ${JSON.stringify(s.frames.slice(-5))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
