import { connect } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import {
  type Client,
  client,
  createUser,
  randomIp,
  randomPhone,
  randomUsername,
  type TestUser,
} from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { type LogLine, startTestServerWithLogs } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

// One regression test per finding of the outside probe (issue 12). Each failed on the main branch of
// the day the probe ran; the numbers follow the issue.

const SECRET = 'test-secret-test-secret-test-secret-0123';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Raw bytes over TCP: what the server answers, and whether (and when) it closed the connection. */
function rawExchange(
  url: string,
  write: (sock: import('node:net').Socket) => void,
  waitMs: number,
): Promise<{ data: string; closedAfterMs: number | null }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = connect(Number(port), hostname);
    let data = '';
    let closedAfterMs: number | null = null;
    sock.on('data', (d) => (data += d.toString()));
    sock.on('error', () => {});
    sock.on('close', () => {
      closedAfterMs = Date.now() - started;
      clearTimeout(timer);
      resolve({ data, closedAfterMs });
    });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ data, closedAfterMs });
    }, waitMs);
    sock.on('connect', () => write(sock));
  });
}

const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

describe('outside probe findings (issue 12), each a regression test', () => {
  let server: RunningServer;
  let logs: LogLine[];
  let logText: () => string;
  let otp: OtpWebhook;
  let api: Client;

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    ({
      server,
      logs,
      text: logText,
    } = await startTestServerWithLogs({
      OTP_WEBHOOK_URL: otp.url,
      JWT_SECRET: SECRET,
      RATE_LIMIT_LOGIN_ACCOUNT: '10/900',
      MAX_DEVICES_PER_ACCOUNT: '100',
      HTTP_REQUEST_TIMEOUT_MS: '1500',
      HTTP_HEADERS_TIMEOUT_MS: '1000',
      WS_AUTH_TIMEOUT_MS: '600',
    }));
    api = client(server.url);
  });
  afterAll(async () => {
    await server?.close();
    await otp?.stop();
  });

  it('1. a NUL byte in login or deviceName is a 400, other users keep logging in, a verify code is not used up', async () => {
    const user = await createUser(api, otp);
    const attacks = Array.from({ length: 30 }, () =>
      api.post('/auth/login', { login: 'a\u0000b', password: 'whatever12' }, { ip: randomIp() }),
    );
    const logins = Array.from({ length: 30 }, () =>
      api.post('/auth/login', { login: user.username, password: user.password }, { ip: randomIp() }),
    );
    const [bad, good] = await Promise.all([Promise.all(attacks), Promise.all(logins)]);
    expect(new Set(bad.map((r) => `${r.status} ${r.body.error.code}`))).toEqual(new Set(['400 VALIDATION_FAILED']));
    expect(bad[0]?.body.error.message).toContain('login');
    expect(good.map((r) => r.status)).toEqual(good.map(() => 200));

    const nulName = await api.post(
      '/auth/login',
      { login: user.username, password: user.password, deviceName: 'phone\u0000' },
      { ip: randomIp() },
    );
    expect(nulName.status).toBe(400);
    expect(nulName.body.error.message).toContain('deviceName');

    // verify: the failed call (a NUL in deviceName) does not spend the code.
    const phone = randomPhone();
    const ip = randomIp();
    expect(
      (await api.post('/auth/register', { username: randomUsername(), phone, password: 'password123' }, { ip })).status,
    ).toBe(201);
    const code = await otp.codeFor(phone);
    for (const deviceName of ['a\u0000', 'tab\there', 'del\u007f']) {
      const r = await api.post('/auth/verify', { phone, code, deviceName }, { ip });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
    const ok = await api.post('/auth/verify', { phone, code, deviceName: 'my phone' }, { ip });
    expect(ok.status).toBe(200);
  });

  it('2. a repeated keyId within one upload is a 400 VALIDATION_FAILED and stores nothing', async () => {
    const user = await createUser(api, otp);
    const device = await SignalDevice.create({ userId: user.userId, deviceId: 1 });
    const upload = await device.generateKeys({ preKeys: 3, kyberPreKeys: 2 });
    const [p0, p1] = upload.preKeys;
    const [k0, k1] = upload.kyberPreKeys;
    const dupEc = { ...upload, preKeys: [p0, { ...(p1 as object), keyId: p0?.keyId }] };
    const dupKyber = { ...upload, kyberPreKeys: [k0, { ...(k1 as object), keyId: k0?.keyId }] };
    for (const body of [dupEc, dupKyber]) {
      const r = await api.post('/keys/upload', body, { token: user.accessToken });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      expect(r.body.error.message).toContain('keyId');
    }
    const count = await api.get('/keys/count', { token: user.accessToken });
    expect(count.body).toMatchObject({ preKeyCount: 0, kyberPreKeyCount: 0 });
    // The same upload without the repeat is accepted.
    expect((await api.post('/keys/upload', upload, { token: user.accessToken })).status).toBe(200);
  });

  it('4. opening the same device several times at once leaves exactly one live socket, which receives', async () => {
    const bob = await createUser(api, otp);
    const alice = await createUser(api, otp);
    const device = await SignalDevice.create({ userId: bob.userId, deviceId: 1 });
    expect(
      (
        await api.post('/keys/upload', await device.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
          token: bob.accessToken,
        })
      ).status,
    ).toBe(200);
    for (const n of [2, 2, 2, 2, 2, 20]) {
      const sockets = await Promise.all(
        Array.from({ length: n }, () => TestSocket.connect(server.url, bob.accessToken)),
      );
      const closed = new Set<TestSocket>();
      for (const s of sockets) void s.closed.then(() => closed.add(s));
      await sleep(700);
      const open = sockets.filter((s) => !closed.has(s));
      expect(open.length, `${n} simultaneous opens`).toBe(1);
      for (const s of sockets.filter((x) => closed.has(x))) expect((await s.closed).code).toBe(4409);
      const live = open[0] as TestSocket;
      const sent = await api.post(
        '/messages/send',
        {
          recipientId: bob.userId,
          messages: [{ deviceId: 1, registrationId: device.registrationId, type: 'message', content: 'aGk=' }],
        },
        { token: alice.accessToken },
      );
      expect(sent.status).toBe(200);
      const frame = await live.next((f) => f.type === 'message' && f.envelope.id === sent.body.messages[0].messageId);
      expect(frame.envelope.content).toBe('aGk=');
      live.send({ type: 'ack', ids: [frame.envelope.id] });
      live.close();
      await live.closed;
    }
  });

  it('5. refresh-token reuse revokes the whole family, whatever the interleaving', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const user = await createUser(api, otp);
      const replies = await Promise.all(
        Array.from({ length: 10 }, () => api.post('/auth/refresh', { refreshToken: user.refreshToken })),
      );
      const ok = replies.filter((r) => r.status === 200);
      expect(ok.length, `trial ${trial}`).toBe(1);
      expect(replies.filter((r) => r.body?.error?.code === 'TOKEN_REUSED').length).toBe(9);
      // The winner's new refresh token belongs to the revoked family.
      const again = await api.post('/auth/refresh', { refreshToken: ok[0]?.body.refreshToken });
      expect(again.status, `trial ${trial}`).toBe(401);
    }
  });

  it('6. slow bodies and slow headers are cut at the request/headers timeouts with the contract body', async () => {
    const slowBody = await rawExchange(
      server.url,
      (s) => {
        s.write(
          'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
        );
        const t = setInterval(() => (s.writable ? s.write(' ') : clearInterval(t)), 300);
        s.on('close', () => clearInterval(t));
      },
      6_000,
    );
    expect(slowBody.closedAfterMs).not.toBeNull();
    expect(slowBody.closedAfterMs as number).toBeLessThan(4_000);
    const slowHeaders = await rawExchange(
      server.url,
      (s) => {
        s.write('GET /health HTTP/1.1\r\nHost: x\r\n');
        const t = setInterval(() => (s.writable ? s.write('X-Slow: 1\r\n') : clearInterval(t)), 300);
        s.on('close', () => clearInterval(t));
      },
      6_000,
    );
    expect(slowHeaders.closedAfterMs).not.toBeNull();
    expect(slowHeaders.closedAfterMs as number).toBeLessThan(4_000);
    for (const r of [slowBody, slowHeaders]) {
      if (r.data) expect(bodyOf(r.data).error.code).toBe('VALIDATION_FAILED');
    }
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('7. the login lock is per account: failures by username lock the phone login too', async () => {
    const user = await createUser(api, otp);
    for (let i = 0; i < 10; i++) {
      const r = await api.post('/auth/login', { login: user.username, password: 'wrong-password' }, { ip: randomIp() });
      expect(r.status).toBe(401);
    }
    const byPhone = await api.post('/auth/login', { login: user.phone, password: user.password }, { ip: randomIp() });
    expect(byPhone.status).toBe(429);
    expect(byPhone.body.error.code).toBe('RATE_LIMITED');
    const byUpper = await api.post(
      '/auth/login',
      { login: user.username.toUpperCase(), password: user.password },
      { ip: randomIp() },
    );
    expect(byUpper.status).toBe(429);
  });

  describe('8. smaller findings', () => {
    let user: TestUser;
    beforeAll(async () => {
      user = await createUser(api, otp);
    });

    const sign = (claims: Record<string, unknown>, sub: string | null, exp: boolean) => {
      let j = new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer('snaptalker')
        .setAudience('snaptalker-api')
        .setIssuedAt();
      if (sub !== null) j = j.setSubject(sub);
      if (exp) j = j.setExpirationTime('10m');
      return j.sign(new TextEncoder().encode(SECRET));
    };

    it('validly signed JWTs with a non-UUID subject or without exp are 401, never 500', async () => {
      const tokens = [
        await sign({ dev: 1, ver: 0 }, 'not-a-uuid', true),
        await sign({ dev: 1, ver: 0 }, "' OR 1=1 --", true),
        await sign({ dev: 1, ver: 0 }, user.userId, false),
        await sign({ dev: 1, ver: 0 }, null, true),
        await sign({ dev: -1, ver: 0 }, user.userId, true),
        await sign({ dev: 1, ver: 1e20 }, user.userId, true),
      ];
      for (const token of tokens) {
        const r = await api.get('/me', { token });
        expect(r.status).toBe(401);
        expect(r.body.error.code).toBe('UNAUTHORIZED');
      }
    });

    it('framework and parser errors come in the contract body without echoing input', async () => {
      const bad = await fetch(`${server.url}/api/v1/keys/bundle/%zz`, {
        headers: { authorization: `Bearer ${user.accessToken}` },
      });
      expect(bad.status).toBe(400);
      const badBody = (await bad.json()) as { error: { code: string; message: string } };
      expect(badBody.error.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(badBody)).not.toContain('%zz');
      expect(JSON.stringify(badBody)).not.toContain('FST_');

      const long = await fetch(`${server.url}/api/v1/keys/bundle/${'a'.repeat(600)}`, {
        headers: { authorization: `Bearer ${user.accessToken}` },
      });
      expect(long.status).toBe(400);
      expect(((await long.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');

      const bigHeaders = await rawExchange(
        server.url,
        (s) => s.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`),
        3_000,
      );
      expect(bigHeaders.data).toMatch(/^HTTP\/1.1 413 /);
      expect(bodyOf(bigHeaders.data).error.code).toBe('PAYLOAD_TOO_LARGE');

      const garbage = await rawExchange(server.url, (s) => s.write('THIS IS NOT HTTP\r\n\r\n'), 3_000);
      expect(garbage.data).toMatch(/^HTTP\/1.1 400 /);
      expect(bodyOf(garbage.data)).toEqual({
        error: { code: 'VALIDATION_FAILED', message: 'malformed HTTP request', details: {} },
      });
    });

    it('security headers: nosniff, frame denial, a CSP (its own on /docs), no-store on token replies', async () => {
      const login = await fetch(`${server.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': randomIp() },
        body: JSON.stringify({ login: user.username, password: user.password }),
      });
      expect(login.status).toBe(200);
      expect(login.headers.get('cache-control')).toBe('no-store');
      expect(login.headers.get('x-content-type-options')).toBe('nosniff');
      expect(login.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(login.headers.get('content-security-policy')).toContain("default-src 'none'");
      const docs = await fetch(`${server.url}/docs/`);
      expect(docs.status).toBe(200);
      const csp = docs.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(docs.headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('a client that disconnects mid-request is not logged as an error', async () => {
      const before = logs.length;
      for (let i = 0; i < 5; i++) {
        await rawExchange(
          server.url,
          (s) => {
            s.write(
              'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"lo',
            );
            setTimeout(() => s.destroy(), 50);
          },
          1_000,
        );
      }
      await sleep(200);
      const errors = logs.slice(before).filter((l) => l.level >= 50);
      expect(errors).toEqual([]);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    });

    it('the phone number is not logged when the OTP webhook is down', async () => {
      otp.status = 500;
      const phone = randomPhone();
      try {
        const r = await api.post(
          '/auth/register',
          { username: randomUsername(), phone, password: 'password123' },
          { ip: randomIp() },
        );
        expect(r.status).toBe(503);
      } finally {
        otp.status = 200;
      }
      expect(logText()).toContain('OTP webhook delivery failed');
      expect(logText()).not.toContain(phone);
      expect(logText()).not.toContain(phone.slice(1));
    });

    it('unauthenticated sockets to /trpc are closed at the auth deadline; an authenticated one stays', async () => {
      const { default: WebSocket } = await import('ws');
      const wsUrl = `${server.url.replace(/^http/, 'ws')}/trpc`;
      const anon = Array.from({ length: 50 }, () => new WebSocket(wsUrl));
      const closes = anon.map(
        (ws) => new Promise<number>((r) => ws.on('close', (code) => r(code)).on('error', () => {})),
      );
      const { createTransport } = await import('@snaptalker/sdk');
      const t = createTransport({
        url: server.url,
        getAccessToken: async () => user.accessToken,
        WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      });
      const events: unknown[] = [];
      const sub = t.trpc.messages.events.subscribe(undefined, { onData: (e) => events.push(e) });
      const codes = await Promise.all(closes);
      expect(new Set(codes)).toEqual(new Set([1008]));
      await sleep(800);
      // The authenticated subscription still receives after the deadline.
      const sender = await createUser(api, otp);
      const device = await SignalDevice.create({ userId: user.userId, deviceId: 1 });
      await api.post('/keys/upload', await device.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
        token: user.accessToken,
      });
      const sent = await api.post(
        '/messages/send',
        {
          recipientId: user.userId,
          messages: [{ deviceId: 1, registrationId: device.registrationId, type: 'message', content: 'aGk=' }],
        },
        { token: sender.accessToken },
      );
      expect(sent.status).toBe(200);
      for (let i = 0; i < 100 && !events.some((e) => (e as { type: string }).type === 'message'); i++) await sleep(50);
      expect(events.some((e) => (e as { type: string }).type === 'message')).toBe(true);
      sub.unsubscribe();
      t.close();
    });
  });

  it('no error was logged by anything above but the webhook outage', () => {
    const errors = logs.filter((l) => l.level >= 50 && l.msg !== 'OTP webhook delivery failed');
    expect(errors.map((e) => `${e.msg}: ${JSON.stringify(e.err)}`)).toEqual([]);
  });
});
