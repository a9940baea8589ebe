import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { type Client, client, createUser, linkDevice, randomIp, randomPhone, randomUsername } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';

// The same flow on PostgreSQL + Redis and on the embedded default (PGlite + in-process).
describe.each([
  { label: 'PostgreSQL + Redis', env: {} as Record<string, string> },
  { label: 'embedded PGlite + memory', env: { DATABASE_URL: '', REDIS_URL: '' } },
])('auth flow on $label', ({ env }) => {
  let server: RunningServer;
  let otp: OtpWebhook;
  let api: Client;

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await startTestServer({ ...env, OTP_WEBHOOK_URL: otp.url });
    api = client(server.url);
  });
  afterAll(async () => {
    await server.close();
    await otp.stop();
  });

  it('register → webhook OTP → verify → /me → second device → refresh → replay is TOKEN_REUSED and revokes the family', async () => {
    const username = randomUsername();
    const phone = randomPhone();
    const password = 'a good long password';
    const reg = await api.post('/auth/register', { username, phone, password }, { ip: randomIp() });
    expect(reg.status).toBe(201);
    expect(reg.body).toEqual({ userId: expect.any(String), status: 'pending_verification' });
    expect(otp.received.at(-1)).toEqual({ phone, code: expect.stringMatching(/^\d{6}$/), purpose: 'register' });

    const v = await api.post('/auth/verify', { phone, code: await otp.codeFor(phone), deviceName: 'phone' });
    expect(v.status).toBe(200);
    expect(v.body).toEqual({
      userId: reg.body.userId,
      deviceId: 1,
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresIn: 900,
    });
    // ≥ 256 bits of randomness, base64url.
    expect(Buffer.from(v.body.refreshToken, 'base64url').length).toBeGreaterThanOrEqual(32);

    const me = await api.get('/me', { token: v.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ userId: reg.body.userId, username, phone });
    expect(me.body.devices).toEqual([
      { deviceId: 1, name: 'phone', createdAt: expect.any(String), lastSeenAt: expect.any(String) },
    ]);

    // Login by phone (case of username does not matter either).
    const l = await api.post('/auth/login', { login: phone, password, deviceName: 'laptop' });
    expect(l.status).toBe(200);
    expect(l.body).toMatchObject({ userId: reg.body.userId, deviceId: 2 });
    const l3 = await api.post('/auth/login', { login: username.toUpperCase(), password });
    expect(l3.body.deviceId).toBe(3);
    const me2 = await api.get('/me', { token: l.body.accessToken });
    expect(me2.body.devices.map((d: { deviceId: number }) => d.deviceId)).toEqual([1, 2, 3]);

    const r1 = await api.post('/auth/refresh', { refreshToken: l.body.refreshToken });
    expect(r1.status).toBe(200);
    expect(r1.body).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), expiresIn: 900 });
    expect(r1.body.refreshToken).not.toBe(l.body.refreshToken);
    expect((await api.get('/me', { token: r1.body.accessToken })).status).toBe(200);

    const replay = await api.post('/auth/refresh', { refreshToken: l.body.refreshToken });
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('TOKEN_REUSED');
    const afterRevoke = await api.post('/auth/refresh', { refreshToken: r1.body.refreshToken });
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.body.error.code).toBe('UNAUTHORIZED');
    // Other devices' families are untouched.
    expect((await api.post('/auth/refresh', { refreshToken: v.body.refreshToken })).status).toBe(200);
  });

  it('logout and unlink take effect at once for access and refresh tokens', async () => {
    const u = await createUser(api, otp);
    const d2 = await linkDevice(api, u);
    const d3 = await linkDevice(api, u);

    expect((await api.post('/auth/logout', undefined, { token: d2.accessToken })).status).toBe(204);
    const after = await api.get('/me', { token: d2.accessToken });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('UNAUTHORIZED');
    expect((await api.post('/auth/refresh', { refreshToken: d2.refreshToken })).body.error.code).toBe('UNAUTHORIZED');

    // Device 1 unlinks device 3; device ids are never reused.
    expect((await api.del('/devices/3', { token: u.accessToken })).status).toBe(204);
    expect((await api.get('/me', { token: d3.accessToken })).status).toBe(401);
    expect((await api.post('/auth/refresh', { refreshToken: d3.refreshToken })).status).toBe(401);
    const d4 = await linkDevice(api, u);
    expect(d4.deviceId).toBe(4);
    // Any device may unlink itself.
    expect((await api.del('/devices/4', { token: d4.accessToken })).status).toBe(204);
    const me = await api.get('/me', { token: u.accessToken });
    expect(me.body.devices.map((d: { deviceId: number }) => d.deviceId)).toEqual([1, 2]);
  });
});
