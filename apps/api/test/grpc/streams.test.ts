import { status } from '@grpc/grpc-js';
import { MessageService } from '@snaptalker/proto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deviceTopic } from '../../src/domain/topics.js';
import type { RunningServer } from '../../src/server.js';
import { type Client, client, createUser, type TestUser } from '../helpers/api.js';
import { grpcClient } from '../helpers/grpc-client.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/tcp-proxy.js';

describe('StreamMessages lifecycle: what ends a stream releases its broker subscription', () => {
  let server: RunningServer;
  let otp: OtpWebhook;
  let api: Client;
  // Observed from outside the server: Redis itself says whether anyone still listens for the device.
  let redis: Redis;

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await startTestServer({ OTP_WEBHOOK_URL: otp.url });
    api = client(server.url);
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    redis.disconnect();
    await server.close();
    await otp.stop();
  });

  /** Redis channels subscribed for the device's topic (the broker adds its own prefix). */
  const deviceSubscribers = async (u: TestUser) =>
    ((await redis.pubsub('CHANNELS', `*${deviceTopic(u.userId, u.deviceId)}`)) as string[]).length;
  const openStream = async (u: TestUser, deadlineMs?: number) => {
    const stream = grpcClient(MessageService, server.grpcPort, { token: u.accessToken }).streamMessages(
      {},
      { deadlineMs },
    );
    await stream.next((m) => m.event.case === 'queueEmpty');
    return stream;
  };

  it('client cancel closes the device stream and unsubscribes it', async () => {
    const u = await createUser(api, otp);
    const stream = await openStream(u);
    expect(await deviceSubscribers(u)).toBe(1);
    stream.cancel();
    expect((await stream.status).code).toBe(status.CANCELLED);
    await waitFor(async () => (await deviceSubscribers(u)) === 0, 5_000);
  });

  it('a passed deadline ends the call with DEADLINE_EXCEEDED and unsubscribes it', async () => {
    const u = await createUser(api, otp);
    const stream = await openStream(u, 1_500);
    expect(await deviceSubscribers(u)).toBe(1);
    const { status: st, messages } = await stream.all();
    expect(st.code).toBe(status.DEADLINE_EXCEEDED);
    // A device without keys is also told keys.low on connect.
    expect(messages.map((m) => m.event.case)).toEqual(['queueEmpty', 'keysLow']);
    await waitFor(async () => (await deviceSubscribers(u)) === 0, 5_000);
  });

  it('server shutdown ends live streams with UNAVAILABLE (reconnect elsewhere) and closes promptly', async () => {
    const own = await startTestServer({ OTP_WEBHOOK_URL: otp.url });
    const u = await createUser(client(own.url), otp);
    const stream = grpcClient(MessageService, own.grpcPort, { token: u.accessToken }).streamMessages({});
    await stream.next((m) => m.event.case === 'queueEmpty');
    const t0 = Date.now();
    await own.close();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await stream.status).code).toBe(status.UNAVAILABLE);
  });
});
