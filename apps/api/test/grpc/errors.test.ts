import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { EnvelopeType, KeyExchangeService, MessageService } from '@snaptalker/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { type Client, client, createUser, linkDevice, type TestUser } from '../helpers/api.js';
import { failure, grpcClient, uploadRequest } from '../helpers/grpc-client.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

const { status } = grpc;

describe('gRPC status mapping (errors.ts), each produced by a real call', () => {
  let server: RunningServer;
  let otp: OtpWebhook;
  let api: Client;
  let alice: TestUser;
  let bob1: TestUser;
  let bob2: TestUser;
  let bobDevices: SignalDevice[];

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await startTestServer({ OTP_WEBHOOK_URL: otp.url });
    api = client(server.url);
    alice = await createUser(api, otp);
    bob1 = await createUser(api, otp);
    bob2 = await linkDevice(api, bob1);
    const d1 = await SignalDevice.create({ userId: bob1.userId, deviceId: 1 });
    const d2 = await SignalDevice.create({ userId: bob1.userId, deviceId: 2, identity: d1.identity });
    bobDevices = [d1, d2];
    for (const [d, s] of [
      [d1, bob1],
      [d2, bob2],
    ] as const) {
      await keys(s).uploadKeyBundle(uploadRequest(await d.generateKeys({ preKeys: 5, kyberPreKeys: 1 })));
    }
  });
  afterAll(async () => {
    await server.close();
    await otp.stop();
  });

  const keys = (s?: TestUser) => grpcClient(KeyExchangeService, server.grpcPort, { token: s?.accessToken });
  const messages = (s?: TestUser) => grpcClient(MessageService, server.grpcPort, { token: s?.accessToken });
  const envelope = (deviceId: number, registrationId: number) => ({
    deviceId,
    registrationId,
    type: EnvelopeType.MESSAGE,
    content: new Uint8Array([1, 2, 3]),
  });

  it('UNAUTHENTICATED for a missing or bad token, on unary and streaming calls', async () => {
    for (const token of [undefined, 'not-a-jwt']) {
      const f = await failure(keys().getKeyBundle({ userId: bob1.userId }, { token }));
      expect(f).toMatchObject({ code: status.UNAUTHENTICATED, trailers: { 'error-code': 'UNAUTHORIZED' } });
    }
    const s = await messages().streamMessages({}).all();
    expect(s.status.code).toBe(status.UNAUTHENTICATED);
    expect(s.messages).toEqual([]);
  });

  it('INVALID_ARGUMENT for what the REST schemas reject: a 32-byte key, a bad signature, a bad id, no type', async () => {
    const d = await SignalDevice.create({ userId: alice.userId, deviceId: 1 });
    const upload = uploadRequest(await d.generateKeys({ preKeys: 1, kyberPreKeys: 0 }));
    const short = await failure(keys(alice).uploadKeyBundle({ ...upload, identityKey: new Uint8Array(32).fill(5) }));
    expect(short).toMatchObject({ code: status.INVALID_ARGUMENT, trailers: { 'error-code': 'VALIDATION_FAILED' } });
    expect(short.details).toContain('identityKey');
    expect(JSON.parse(short.trailers['error-details']).issues[0].field).toBe('identityKey');

    const signature = new Uint8Array(64).fill(7);
    const badSig = await failure(
      keys(alice).uploadKeyBundle({ ...upload, signedPreKey: { ...upload.signedPreKey, signature } }),
    );
    expect(badSig).toMatchObject({ code: status.INVALID_ARGUMENT, trailers: { 'error-code': 'INVALID_SIGNATURE' } });

    const badId = await failure(keys(alice).getKeyBundle({ userId: 'not-a-uuid' }));
    expect(badId).toMatchObject({ code: status.INVALID_ARGUMENT, trailers: { 'error-code': 'VALIDATION_FAILED' } });

    const noType = await failure(
      messages(alice).sendMessage({
        recipientId: bob1.userId,
        messages: [{ ...envelope(1, bobDevices[0]!.registrationId), type: EnvelopeType.UNSPECIFIED }],
      }),
    );
    expect(noType.code).toBe(status.INVALID_ARGUMENT);
    expect(noType.details).toContain('messages.0.type');
  });

  it('INVALID_ARGUMENT, not INTERNAL, for bytes that are not a protobuf message', async () => {
    const channel = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${alice.accessToken}`);
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      channel.makeUnaryRequest(
        '/snaptalker.v1.KeyExchangeService/GetKeyBundle',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff]), // field 1, length far beyond the message
        md,
        (e) => resolve(e as grpc.ServiceError),
      ),
    );
    channel.close();
    expect(err.code).toBe(status.INVALID_ARGUMENT);
  });

  it('NOT_FOUND for the bundle of an unknown user', async () => {
    const f = await failure(keys(alice).getKeyBundle({ userId: randomUUID() }));
    expect(f).toMatchObject({ code: status.NOT_FOUND, trailers: { 'error-code': 'NOT_FOUND' } });
  });

  it('FAILED_PRECONDITION with the mismatched / stale device lists in the trailers', async () => {
    const [d1, d2] = bobDevices as [SignalDevice, SignalDevice];
    const mismatched = await failure(
      messages(alice).sendMessage({
        recipientId: bob1.userId,
        messages: [envelope(1, d1.registrationId), envelope(3, 42)],
      }),
    );
    expect(mismatched).toMatchObject({
      code: status.FAILED_PRECONDITION,
      trailers: { 'error-code': 'MISMATCHED_DEVICES' },
    });
    expect(JSON.parse(mismatched.trailers['error-details'])).toEqual({ missingDevices: [2], extraDevices: [3] });

    const stale = await failure(
      messages(alice).sendMessage({
        recipientId: bob1.userId,
        messages: [envelope(1, d1.registrationId), envelope(2, (d2.registrationId % 16380) + 1)],
      }),
    );
    expect(stale).toMatchObject({ code: status.FAILED_PRECONDITION, trailers: { 'error-code': 'STALE_DEVICES' } });
    expect(JSON.parse(stale.trailers['error-details'])).toEqual({ staleDevices: [2] });
  });

  it('ABORTED when a device other than 1 sends a different identity key (CONFLICT)', async () => {
    const other = await SignalDevice.create({ userId: bob1.userId, deviceId: 2 });
    const f = await failure(keys(bob2).uploadKeyBundle(uploadRequest(await other.generateKeys({ preKeys: 1 }))));
    expect(f).toMatchObject({ code: status.ABORTED, trailers: { 'error-code': 'CONFLICT' } });
  });

  it('RESOURCE_EXHAUSTED for a request over the 2 MiB limit, and INVALID_ARGUMENT for content over 256 KiB', async () => {
    const big = await failure(
      messages(alice).sendMessage({
        recipientId: bob1.userId,
        messages: [{ ...envelope(1, 1), content: new Uint8Array(3 * 1024 * 1024) }],
      }),
    );
    expect(big.code).toBe(status.RESOURCE_EXHAUSTED);
    const overContent = await failure(
      messages(alice).sendMessage({
        recipientId: bob1.userId,
        messages: [{ ...envelope(1, 1), content: new Uint8Array(300 * 1024) }],
      }),
    );
    expect(overContent.code).toBe(status.INVALID_ARGUMENT);
  });

  describe('a live stream ends with the status of why the service retired it', () => {
    const openStream = async (s: TestUser) => {
      const stream = messages(s).streamMessages({});
      await stream.next((m) => m.event.case === 'queueEmpty');
      return stream;
    };

    it('ABORTED when a newer connection of the device replaces it', async () => {
      const s = await createUser(api, otp);
      const stream = await openStream(s);
      const ws = await TestSocket.connect(server.url, s.accessToken);
      const { status: st } = await stream.all();
      expect(st).toMatchObject({ code: status.ABORTED });
      expect(st.metadata.get('error-code')).toEqual(['CONFLICT']);
      ws.close();
    });

    it('UNAUTHENTICATED on logout', async () => {
      const s = await createUser(api, otp);
      const stream = await openStream(s);
      expect((await api.post('/auth/logout', undefined, { token: s.accessToken })).status).toBe(204);
      expect((await stream.all()).status.code).toBe(status.UNAUTHENTICATED);
    });

    it('PERMISSION_DENIED on a ban', async () => {
      const s = await createUser(api, otp);
      const stream = await openStream(s);
      await server.services.accounts.setBanned(s.userId, true);
      const { status: st } = await stream.all();
      expect(st.code).toBe(status.PERMISSION_DENIED);
      expect(st.metadata.get('error-code')).toEqual(['BANNED']);
    });
  });
});

describe('gRPC rate limits', () => {
  let server: RunningServer;
  let otp: OtpWebhook;
  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    // A test of the limit's mapping, not of its default: two bundle fetches a minute.
    server = await startTestServer({ OTP_WEBHOOK_URL: otp.url, RATE_LIMIT_BUNDLE_REQUESTER: '2/60' });
  });
  afterAll(async () => {
    await server.close();
    await otp.stop();
  });

  it('RESOURCE_EXHAUSTED with a retry-after trailer (seconds) once the bundle limit is spent', async () => {
    const api = client(server.url);
    const me = await createUser(api, otp);
    const keys = grpcClient(KeyExchangeService, server.grpcPort, { token: me.accessToken });
    for (let i = 0; i < 2; i++) {
      expect((await failure(keys.getKeyBundle({ userId: randomUUID() }))).code).toBe(status.NOT_FOUND);
    }
    const f = await failure(keys.getKeyBundle({ userId: randomUUID() }));
    expect(f).toMatchObject({ code: status.RESOURCE_EXHAUSTED, trailers: { 'error-code': 'RATE_LIMITED' } });
    const retryAfter = Number(f.trailers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(JSON.parse(f.trailers['error-details'])).toEqual({ retryAfter });
    keys.close();
  });
});
