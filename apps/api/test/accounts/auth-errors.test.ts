import { randomUUID } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { client, createUser, linkDevice, randomIp, randomPhone, randomUsername } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer, testEnv } from '../helpers/server.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';

const SECRET = 'test-secret-test-secret-test-secret-0123';

describe('auth errors: every code of the contract, and nothing half-written', () => {
  let { server, otp, api, db } = {} as ServerContext;
  useServer({ MAX_DEVICES_PER_ACCOUNT: '3', JWT_SECRET: SECRET }, (c) => ({ server, otp, api, db } = c));

  const countUsers = async (phone: string) =>
    (await db.query('SELECT count(*)::int AS n FROM users WHERE phone = $1', [phone])).rows[0].n as number;

  it('400 VALIDATION_FAILED names the field: bad phone, username, password, unknown field, wrong type, huge string', async () => {
    const phone = randomPhone();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ username: 'ok_name', phone: '5551234', password: 'password123' }, 'phone'],
      [{ username: 'no spaces!', phone, password: 'password123' }, 'username'],
      [{ username: 'ok_name', phone, password: 'short' }, 'password'],
      [{ username: 'ok_name', phone, password: 'x'.repeat(129) }, 'password'],
      [{ username: 'ok_name', phone, password: 'password123', admin: true }, 'admin'],
      [{ username: 42, phone, password: 'password123' }, 'username'],
      [{ username: 'a'.repeat(100_000), phone, password: 'password123' }, 'username'],
      [{ phone, password: 'password123' }, 'username'],
    ];
    for (const [body, field] of cases) {
      const r = await api.post('/auth/register', body, { ip: randomIp() });
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      expect(r.body.error.message).toContain(field);
    }
    expect(await countUsers(phone)).toBe(0);
  });

  it('malformed JSON 400, wrong content type 415, body over 2 MiB 413, unknown route 404 — all with the error body', async () => {
    const url = `${server.url}/api/v1/auth/register`;
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username":',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe('VALIDATION_FAILED');
    const text = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
    expect(((await text.json()) as any).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const huge = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as any).error.code).toBe('PAYLOAD_TOO_LARGE');
    const missing = await fetch(`${server.url}/api/v1/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String), details: {} } });
  });

  it('409 CONFLICT for a verified phone or username (any case); a pending registration is replaced', async () => {
    const u = await createUser(api, otp);
    const samePhone = await api.post(
      '/auth/register',
      { username: randomUsername(), phone: u.phone, password: 'password123' },
      { ip: randomIp() },
    );
    expect(samePhone.status).toBe(409);
    expect(samePhone.body.error).toMatchObject({ code: 'CONFLICT', details: { field: 'phone' } });
    const sameName = await api.post(
      '/auth/register',
      { username: u.username.toUpperCase(), phone: randomPhone(), password: 'password123' },
      { ip: randomIp() },
    );
    expect(sameName.status).toBe(409);
    expect(sameName.body.error.details.field).toBe('username');

    const phone = randomPhone();
    const first = await api.post(
      '/auth/register',
      { username: randomUsername(), phone, password: 'password123' },
      { ip: randomIp() },
    );
    const firstCode = await otp.codeFor(phone);
    const second = await api.post(
      '/auth/register',
      { username: randomUsername(), phone, password: 'password456' },
      { ip: randomIp() },
    );
    expect(second.status).toBe(201);
    expect(second.body.userId).not.toBe(first.body.userId);
    expect(await countUsers(phone)).toBe(1);
    const secondCode = await otp.codeFor(phone, 1);
    if (firstCode !== secondCode) {
      expect((await api.post('/auth/verify', { phone, code: firstCode })).body.error.code).toBe('INVALID_CODE');
    }
    const v = await api.post('/auth/verify', { phone, code: secondCode });
    expect(v.body.userId).toBe(second.body.userId);
  });

  it('401 INVALID_CODE: wrong code, unknown phone, used code; after 5 wrong tries the right code is void', async () => {
    const phone = randomPhone();
    await api.post(
      '/auth/register',
      { username: randomUsername(), phone, password: 'password123' },
      { ip: randomIp() },
    );
    const code = await otp.codeFor(phone);
    const wrong = code === '000000' ? '111111' : '000000';
    expect((await api.post('/auth/verify', { phone: randomPhone(), code })).body.error.code).toBe('INVALID_CODE');
    for (let i = 0; i < 5; i++) {
      const r = await api.post('/auth/verify', { phone, code: wrong });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('INVALID_CODE');
    }
    expect((await api.post('/auth/verify', { phone, code })).body.error.code).toBe('INVALID_CODE');
    // Registering again sends a fresh code, which works; using it twice does not.
    await api.post(
      '/auth/register',
      { username: randomUsername(), phone, password: 'password123' },
      { ip: randomIp() },
    );
    const fresh = await otp.codeFor(phone, 1);
    expect((await api.post('/auth/verify', { phone, code: fresh })).status).toBe(200);
    expect((await api.post('/auth/verify', { phone, code: fresh })).body.error.code).toBe('INVALID_CODE');
  });

  it('401 INVALID_CREDENTIALS alike for wrong password and unknown login; 403 NOT_VERIFIED after the right password', async () => {
    const u = await createUser(api, otp);
    const wrong = await api.post('/auth/login', { login: u.username, password: 'not the password' });
    const unknown = await api.post('/auth/login', { login: randomUsername(), password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body.error.code).toBe('INVALID_CREDENTIALS');

    const phone = randomPhone();
    await api.post(
      '/auth/register',
      { username: randomUsername(), phone, password: 'password123' },
      { ip: randomIp() },
    );
    const nv = await api.post('/auth/login', { login: phone, password: 'password123' });
    expect(nv.status).toBe(403);
    expect(nv.body.error.code).toBe('NOT_VERIFIED');
  });

  it('409 CONFLICT past the device limit; 403 FORBIDDEN for unlinking device 1 or another device from device 2; 404 unknown device', async () => {
    const u = await createUser(api, otp);
    const d2 = await linkDevice(api, u);
    await linkDevice(api, u);
    const full = await api.post('/auth/login', { login: u.username, password: u.password });
    expect(full.status).toBe(409);
    expect(full.body.error.code).toBe('CONFLICT');
    expect((await api.del('/devices/1', { token: u.accessToken })).body.error.code).toBe('FORBIDDEN');
    expect((await api.del('/devices/3', { token: d2.accessToken })).body.error.code).toBe('FORBIDDEN');
    const nf = await api.del('/devices/9', { token: u.accessToken });
    expect(nf.status).toBe(404);
    expect(nf.body.error.code).toBe('NOT_FOUND');
    expect((await api.del('/devices/abc', { token: u.accessToken })).body.error.code).toBe('VALIDATION_FAILED');
  });

  it('403 BANNED on every authenticated call, login and refresh; unban restores', async () => {
    const u = await createUser(api, otp);
    await server.services.accounts.setBanned(u.userId, true);
    for (const r of [
      await api.get('/me', { token: u.accessToken }),
      await api.post('/auth/login', { login: u.username, password: u.password }),
      await api.post('/auth/refresh', { refreshToken: u.refreshToken }),
    ]) {
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('BANNED');
    }
    await server.services.accounts.setBanned(u.userId, false);
    expect((await api.get('/me', { token: u.accessToken })).status).toBe(200);
    const audit = await db.query('SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id', [u.userId]);
    expect(audit.rows.map((r) => r.action)).toEqual(['user.ban', 'user.unban']);
  });

  it('401 for missing, expired, tampered, alg:none and foreign-key access tokens', async () => {
    const u = await createUser(api, otp);
    const key = new TextEncoder().encode(SECRET);
    const claims = { dev: 1, ver: 0 };
    const sign = (k: Uint8Array, exp: string | number) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(u.userId)
        .setIssuer('snaptalker')
        .setAudience('snaptalker-api')
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(k);
    // Control: a token we mint with the real key is accepted, so the rejections below are about the defect.
    expect((await api.get('/me', { token: await sign(key, '5m') })).status).toBe(200);

    const expired = await sign(key, Math.floor(Date.now() / 1000) - 10);
    const foreign = await sign(new TextEncoder().encode('another-secret-another-secret-0123456'), '5m');
    const [h, p, s] = u.accessToken.split('.');
    const payload = JSON.parse(Buffer.from(p as string, 'base64url').toString());
    const tampered = [h, Buffer.from(JSON.stringify({ ...payload, dev: 2 })).toString('base64url'), s].join('.');
    const none = new UnsecuredJWT(claims)
      .setSubject(u.userId)
      .setIssuer('snaptalker')
      .setAudience('snaptalker-api')
      .setExpirationTime('5m')
      .encode();
    for (const token of [expired, foreign, tampered, none, 'garbage', randomUUID()]) {
      const r = await api.get('/me', { token });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHORIZED');
    }
    const noHeader = await api.get('/me');
    expect(noHeader.status).toBe(401);
  });

  it('a register whose OTP cannot be delivered leaves no account behind (503)', async () => {
    const failing = await new OtpWebhook().start();
    failing.status = 500;
    const s = await startTestServer({
      ...(await testEnv()),
      OTP_WEBHOOK_URL: failing.url,
      OTP_WEBHOOK_TIMEOUT_MS: '500',
    });
    try {
      const phone = randomPhone();
      const r = await client(s.url).post(
        '/auth/register',
        { username: randomUsername(), phone, password: 'password123' },
        { ip: randomIp() },
      );
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('UNAVAILABLE');
      expect(await countUsers(phone)).toBe(0);
    } finally {
      await s.close();
      await failing.stop();
    }
  });
});
