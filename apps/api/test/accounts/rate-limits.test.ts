import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import {
  type ApiResponse,
  type Client,
  client,
  createUser,
  randomIp,
  randomPhone,
  randomUsername,
} from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startServerWithDefaultLimits } from '../helpers/server.js';

// Two API nodes sharing PostgreSQL + Redis, every limit at its default: calls alternate between the
// nodes, so a limit that held per process only would never trip at its threshold.
describe('auth rate limits at their defaults, across two API nodes sharing Redis', () => {
  let a: RunningServer;
  let b: RunningServer;
  let otp: OtpWebhook;
  let apis: [Client, Client];
  const api = (i: number) => apis[i % 2] as Client;

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    [a, b] = await Promise.all([
      startServerWithDefaultLimits({ OTP_WEBHOOK_URL: otp.url }),
      startServerWithDefaultLimits({ OTP_WEBHOOK_URL: otp.url }),
    ]);
    apis = [client(a.url), client(b.url)];
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    await otp.stop();
  });

  function expectLimited(r: ApiResponse, maxWindowS: number) {
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('RATE_LIMITED');
    const after = Number(r.headers.get('retry-after'));
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(maxWindowS);
  }

  it('register: 3 OTP sends per phone per 10 min', async () => {
    const phone = randomPhone();
    for (let i = 0; i < 3; i++) {
      const r = await api(i).post(
        '/auth/register',
        { username: randomUsername(), phone, password: 'password123' },
        { ip: randomIp() },
      );
      expect(r.status).toBe(201);
    }
    const r = await api(3).post(
      '/auth/register',
      { username: randomUsername(), phone, password: 'password123' },
      { ip: randomIp() },
    );
    expectLimited(r, 600);
    expect(otp.count(phone)).toBe(3);
  });

  it('register: 20 per IP per hour', async () => {
    const ip = randomIp();
    for (let i = 0; i < 20; i++) {
      const r = await api(i).post(
        '/auth/register',
        { username: randomUsername(), phone: randomPhone(), password: 'password123' },
        { ip },
      );
      expect(r.status).toBe(201);
    }
    expectLimited(
      await api(20).post(
        '/auth/register',
        { username: randomUsername(), phone: randomPhone(), password: 'password123' },
        { ip },
      ),
      3600,
    );
  });

  it('verify: 30 per IP per 10 min', async () => {
    const ip = randomIp();
    for (let i = 0; i < 30; i++) {
      const r = await api(i).post('/auth/verify', { phone: randomPhone(), code: '123456' }, { ip });
      expect(r.body.error.code).toBe('INVALID_CODE');
    }
    expectLimited(await api(30).post('/auth/verify', { phone: randomPhone(), code: '123456' }, { ip }), 600);
  });

  it('login: 10 failures per account per 15 min, then even the right password waits', async () => {
    const u = await createUser(api(0), otp);
    for (let i = 0; i < 10; i++) {
      const r = await api(i).post('/auth/login', { login: u.username, password: 'wrong password' }, { ip: randomIp() });
      expect(r.body.error.code).toBe('INVALID_CREDENTIALS');
    }
    expectLimited(
      await api(10).post('/auth/login', { login: u.username, password: u.password }, { ip: randomIp() }),
      900,
    );
  });

  it('login: 50 per IP per 15 min', async () => {
    const ip = randomIp();
    for (let i = 0; i < 50; i++) {
      const r = await api(i).post('/auth/login', { login: randomUsername(), password: 'wrong password' }, { ip });
      expect(r.status).toBe(401);
    }
    expectLimited(
      await api(50).post('/auth/login', { login: randomUsername(), password: 'wrong password' }, { ip }),
      900,
    );
  });

  it('refresh: 60 per device per hour', async () => {
    const u = await createUser(api(0), otp);
    let token = u.refreshToken;
    for (let i = 0; i < 60; i++) {
      const r = await api(i).post('/auth/refresh', { refreshToken: token });
      expect(r.status).toBe(200);
      token = r.body.refreshToken;
    }
    expectLimited(await api(60).post('/auth/refresh', { refreshToken: token }), 3600);
  });
});
