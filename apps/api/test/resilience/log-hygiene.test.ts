import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningServer } from '../../src/server.js';
import { client, createUser, linkDevice, randomPhone } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServerWithLogs } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

const JWT_SECRET = 'test-secret-test-secret-test-secret-0123';

/**
 * After a run through every credential-bearing path (register, verify, login, refresh, bearer and
 * ?token= sockets, sends, bundle claims, failures of each), the server's log holds no token, OTP
 * code, password, secret or full phone number.
 */
describe('log hygiene', () => {
  let server: RunningServer;
  let text: () => string;
  let otp: OtpWebhook;
  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    ({ server, text } = await startTestServerWithLogs({ OTP_WEBHOOK_URL: otp.url, LOG_LEVEL: 'debug' }));
  });
  afterAll(async () => {
    await server.close();
    await otp.stop();
  });

  it('no secret, token, OTP code, password or full phone number in any log line', async () => {
    const api = client(server.url);
    const alice = await createUser(api, otp);
    const bob = await createUser(api, otp);
    const bob2 = await linkDevice(api, bob, 'second phone');
    const secrets: string[] = [JWT_SECRET, alice.password];
    for (const u of [alice, bob, bob2]) secrets.push(u.accessToken, u.refreshToken, u.phone, u.phone.slice(1));
    for (const r of otp.received) secrets.push(r.code);

    const d = await SignalDevice.create({ userId: bob.userId, deviceId: 1 });
    expect(
      (
        await api.post('/keys/upload', await d.generateKeys({ preKeys: 2, kyberPreKeys: 2 }), {
          token: bob.accessToken,
        })
      ).status,
    ).toBe(200);
    expect((await api.get(`/keys/bundle/${bob.userId}`, { token: alice.accessToken })).status).toBe(200);
    const refreshed = await api.post('/auth/refresh', { refreshToken: alice.refreshToken });
    expect(refreshed.status).toBe(200);
    secrets.push(refreshed.body.accessToken, refreshed.body.refreshToken);
    // Failures that log: reuse of a refresh token, a wrong password, a wrong code, a bad token.
    expect((await api.post('/auth/refresh', { refreshToken: alice.refreshToken })).status).toBe(401);
    expect((await api.post('/auth/login', { login: alice.username, password: 'wrong password!!' })).status).toBe(401);
    const phone = randomPhone();
    secrets.push(phone, phone.slice(1));
    await api.post('/auth/register', { username: `u_${Date.now()}`, phone, password: 'another password' });
    const code = await otp.codeFor(phone);
    secrets.push(code);
    expect((await api.post('/auth/verify', { phone, code: code === '000000' ? '111111' : '000000' })).status).toBe(401);
    expect((await api.get('/me', { token: `${bob.accessToken}x` })).status).toBe(401);
    // Sockets authenticated both ways; a browser's ?token= must not reach the access log.
    const viaQuery = await TestSocket.connect(server.url, bob.accessToken, 'query');
    await viaQuery.next((f) => f.type === 'queue.empty');
    const bad = new WebSocket(
      `${server.url.replace(/^http/, 'ws')}/api/v1/messages/stream?token=${alice.accessToken}zz`,
    );
    await new Promise((r) => bad.once('close', r).once('error', r));
    const aliceWs = await TestSocket.connect(server.url, refreshed.body.accessToken);
    await aliceWs.next((f) => f.type === 'queue.empty');
    aliceWs.send({
      type: 'send',
      requestId: 'r1',
      recipientId: bob.userId,
      messages: [{ deviceId: 1, registrationId: d.registrationId, type: 'message', content: 'aGk=' }],
    });
    expect((await aliceWs.next((f) => f.requestId === 'r1')).type).toBe('send.result');
    await viaQuery.next((f) => f.type === 'message');
    expect((await api.post('/auth/logout', {}, { token: bob2.accessToken })).status).toBe(204);
    viaQuery.close();
    aliceWs.close();
    await new Promise((r) => setTimeout(r, 200));

    const log = text();
    expect(log.length).toBeGreaterThan(1_000);
    const found = (s: string) => new RegExp(`(^|[^0-9A-Za-z])${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).test(log);
    // The matcher finds what is there (the bundle URL is in the access log with bob's id)…
    expect(found(bob.userId)).toBe(true);
    // …and none of the secrets.
    const leaked = secrets.filter(found);
    expect(leaked.map((s) => `${s.slice(0, 4)}… (${s.length} chars)`)).toEqual([]);
  }, 60_000);
});
