import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { client, createUser, type TestUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { type LogLine, startTestServerWithLogs } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { fuzz } from './fuzz-lib.js';

// Every route of the OpenAPI document, a few thousand hostile requests with a fixed seed (so a
// failure reproduces): no 5xx, every error in the contract's body, nothing logged as an error.
// `pnpm --filter @snaptalker/api fuzz` runs the same with a random seed and a larger count.

const SEED = 20261203;

describe('REST fuzz over the OpenAPI document (fast-check, fixed seed)', () => {
  let server: RunningServer;
  let logs: LogLine[];
  let otp: OtpWebhook;
  let users: TestUser[];

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    ({ server, logs } = await startTestServerWithLogs({
      OTP_WEBHOOK_URL: otp.url,
      MAX_DEVICES_PER_ACCOUNT: '100',
      // Configured, so GET /calls/turn answers 200 (unconfigured it is a documented 503).
      TURN_SECRET: 'fuzz-turn-secret',
      TURN_URLS: 'turn:127.0.0.1:3478',
    }));
    const api = client(server.url);
    users = [await createUser(api, otp), await createUser(api, otp)];
    // Keys for one account, so bundle fetches and sends get past "no such device".
    const device = await SignalDevice.create({ userId: users[1]?.userId as string, deviceId: 1 });
    await api.post('/keys/upload', await device.generateKeys({ preKeys: 20, kyberPreKeys: 5 }), {
      token: users[1]?.accessToken,
    });
  });
  afterAll(async () => {
    await server?.close();
    await otp?.stop();
  });

  it('3,000 requests across every route: 0 replies 5xx, every error in the contract body, no error logged', async () => {
    const result = await fuzz(
      { baseUrl: server.url, tokens: users.map((u) => u.accessToken), knownIds: users.map((u) => u.userId) },
      { seed: SEED, count: 3_000 },
    );
    console.log(`fuzz: ${result.requests} requests over ${result.operations} operations; statuses`, result.statuses);
    expect(result.operations).toBeGreaterThanOrEqual(15);
    const summary = result.findings.map(
      (f) => `${f.request.method} ${f.request.path.slice(0, 80)} → ${f.status} ${f.body.slice(0, 120)}`,
    );
    expect([...new Set(summary)].slice(0, 20)).toEqual([]);
    const errors = logs.filter((l) => l.level >= 50);
    expect(errors.map((e) => `${e.msg}: ${JSON.stringify(e.err).slice(0, 300)}`)).toEqual([]);
    // Not one status class everywhere: the fuzzer reached both success and failure paths.
    expect(Object.keys(result.statuses).some((s) => s.startsWith('2'))).toBe(true);
    expect(Object.keys(result.statuses).some((s) => s.startsWith('4'))).toBe(true);
  });
});
