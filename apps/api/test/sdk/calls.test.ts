import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { CallsClient, CallsError } from '@snaptalker/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningServer } from '../../src/server.js';
import { client, createUser, type TestUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';

const sdkCallsSource = createRequire(import.meta.url)
  .resolve('@snaptalker/sdk')
  .replace(/index\.ts$/, 'calls.ts');

describe('SDK: the typed calls API over the signaling socket', () => {
  let server: RunningServer;
  let otp: OtpWebhook;
  const clients: CallsClient[] = [];
  const forUser = async (u: TestUser) => {
    const c = new CallsClient({
      url: server.url,
      getAccessToken: () => u.accessToken,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    clients.push(c);
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await startTestServer({
      OTP_WEBHOOK_URL: otp.url,
      TURN_SECRET: 'sdk-secret',
      TURN_URLS: 'stun:127.0.0.1:3478',
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close();
    await otp?.stop();
  });

  it('place → ringing → answer → ice → hangup; reject; TURN credentials', async () => {
    const api = client(server.url);
    const [aliceU, bobU] = [await createUser(api, otp), await createUser(api, otp)];
    const [alice, bob] = [await forUser(aliceU), await forUser(bobU)];
    const offered = bob.next((e) => e.type === 'offer');
    const callId = alice.place(bobU.userId, 'sdp-offer', 'video');
    const offer = await offered;
    expect(offer).toMatchObject({
      type: 'offer',
      callId,
      sdp: 'sdp-offer',
      media: 'video',
      from: { userId: aliceU.userId },
    });
    const ringing = alice.next((e) => e.type === 'ringing' && e.callId === callId);
    bob.ringing(callId);
    await ringing;
    const answered = alice.next((e) => e.type === 'answer' && e.callId === callId);
    bob.answer(callId, 'sdp-answer');
    expect(await answered).toMatchObject({ sdp: 'sdp-answer', from: { userId: bobU.userId, deviceId: 1 } });
    const ice = bob.next((e) => e.type === 'ice' && e.callId === callId);
    alice.ice(callId, '{"candidate":"x"}');
    expect(await ice).toMatchObject({ candidate: '{"candidate":"x"}' });
    const hung = bob.next((e) => e.type === 'hangup' && e.callId === callId);
    alice.hangup(callId);
    expect(await hung).toMatchObject({ reason: 'hangup' });

    const rejected = alice.next((e) => e.type === 'reject');
    const second = bob.next((e) => e.type === 'offer');
    const id2 = alice.place(bobU.userId, 'again', 'audio', randomUUID());
    await second;
    bob.reject(id2);
    expect(await rejected).toMatchObject({ callId: id2 });

    const stranger = await forUser(await createUser(api, otp));
    const err = stranger.next((e) => e.type === 'error' && e.callId === id2);
    stranger.hangup(id2);
    expect(await err).toMatchObject({ code: 'NOT_FOUND' });

    const turn = await alice.turnCredentials();
    expect(turn.urls).toEqual(['stun:127.0.0.1:3478']);
    expect(turn.username.endsWith(`:${aliceU.userId}`)).toBe(true);
  });

  it('turnCredentials surfaces the contract error; the calls module is browser-safe', async () => {
    const api = client(server.url);
    const u = await createUser(api, otp);
    const c = new CallsClient({ url: server.url, getAccessToken: () => 'not-a-token' });
    await expect(c.turnCredentials()).rejects.toBeInstanceOf(CallsError);
    void u;
    const src = await readFile(sdkCallsSource, 'utf8');
    expect(src).not.toMatch(/from ['"](node:|ws['"]|fs|path|crypto['"])/);
    expect(src).not.toMatch(/require\(/);
  });
});
