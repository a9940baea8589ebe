import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { client, createUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startServerWithDefaultLimits } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';

describe('bundle fetch limits at their defaults', () => {
  let server: RunningServer;
  let otp: OtpWebhook;
  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    // Account creation is not what is measured here: its limits are raised, the bundle ones are not.
    server = await startServerWithDefaultLimits({
      OTP_WEBHOOK_URL: otp.url,
      RATE_LIMIT_REGISTER_IP: '1000/60',
      RATE_LIMIT_REGISTER_PHONE: '1000/60',
      RATE_LIMIT_VERIFY_IP: '1000/60',
    });
  });
  afterAll(async () => {
    await server.close();
    await otp.stop();
  });

  async function target(api: ReturnType<typeof client>) {
    const u = await createUser(api, otp);
    const d = await SignalDevice.create({ userId: u.userId, deviceId: 1 });
    await api.post('/keys/upload', await d.generateKeys({ preKeys: 100, kyberPreKeys: 1 }), { token: u.accessToken });
    return u;
  }

  it('one requester may take at most 20 bundles of one target per hour, so it cannot drain its prekeys', async () => {
    const api = client(server.url);
    const bob = await target(api);
    const mallory = await createUser(api, otp);
    for (let i = 0; i < 20; i++)
      expect((await api.get(`/keys/bundle/${bob.userId}`, { token: mallory.accessToken })).status).toBe(200);
    const r = await api.get(`/keys/bundle/${bob.userId}`, { token: mallory.accessToken });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    // Others can still fetch Bob's bundle, and 80 of his 100 prekeys are left.
    const alice = await createUser(api, otp);
    expect((await api.get(`/keys/bundle/${bob.userId}`, { token: alice.accessToken })).status).toBe(200);
    expect((await api.get('/keys/count', { token: bob.accessToken })).body.preKeyCount).toBe(79);
  });

  it('one requester may fetch at most 60 bundles per minute overall', async () => {
    const api = client(server.url);
    const targets = await Promise.all(Array.from({ length: 4 }, () => target(api)));
    const requester = await createUser(api, otp);
    for (let i = 0; i < 60; i++) {
      const r = await api.get(`/keys/bundle/${targets[i % 4]?.userId}`, { token: requester.accessToken });
      expect(r.status).toBe(200);
    }
    const r = await api.get(`/keys/bundle/${targets[0]?.userId}`, { token: requester.accessToken });
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('RATE_LIMITED');
  });
});
