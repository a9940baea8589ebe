import { createTransport, errorCode, errorDetails } from '@snaptalker/sdk';
import WebSocket from 'ws';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createUser, randomIp, randomPhone, randomUsername } from '../helpers/api.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { type Frame, TestSocket } from '../helpers/ws-client.js';

const WS = WebSocket as unknown as typeof globalThis.WebSocket;

describe('tRPC at /trpc over HTTP and WebSocket', () => {
  let { server, otp, api } = {} as ServerContext;
  useServer({}, (c) => ({ server, otp, api } = c));

  const transport = (token: string | null) =>
    createTransport({ url: server.url, getAccessToken: () => token, WebSocket: WS });

  it('is typed end to end; wrong inputs fail tsc (checked by @ts-expect-error) and the server with contract codes', async () => {
    const t = transport(null);
    // These never run; `tsc --noEmit` (the typecheck task) fails if any line below stops being an error.
    const typeChecks = () => {
      // @ts-expect-error username must be a string
      void t.trpc.auth.register.mutate({ username: 42, phone: '+15550000000', password: 'password123' });
      // @ts-expect-error unknown procedure
      void t.trpc.auth.deleteEverything.mutate();
      // @ts-expect-error status is 'delivered' | 'read'
      void t.trpc.messages.setStatus.mutate({ id: 'x', status: 'archived' });
      // @ts-expect-error messages must be an array of envelopes
      void t.trpc.messages.send.mutate({ recipientId: 'x', messages: 'hello' });
    };
    expect(typeChecks).toBeTypeOf('function');
    expectTypeOf(t.trpc.auth.me.query).returns.resolves.toHaveProperty('devices');

    const phone = randomPhone();
    const reg = await t.trpc.auth.register.mutate({ username: randomUsername(), phone, password: 'password123' });
    expect(reg.status).toBe('pending_verification');
    const session = await t.trpc.auth.verify.mutate({ phone, code: await otp.codeFor(phone) });
    expect(session.deviceId).toBe(1);

    const bad = await t.trpc.auth.register
      .mutate({ username: 'x', phone, password: 'password123' } as never)
      .catch((e: unknown) => e);
    expect(errorCode(bad)).toBe('VALIDATION_FAILED');
    expect((bad as { data: { httpStatus: number } }).data.httpStatus).toBe(400);
    const conflict = await t.trpc.auth.register
      .mutate({ username: randomUsername(), phone, password: 'password123' })
      .catch((e: unknown) => e);
    expect(errorCode(conflict)).toBe('CONFLICT');
    const unauth = await t.trpc.auth.me.query().catch((e: unknown) => e);
    expect(errorCode(unauth)).toBe('UNAUTHORIZED');
    expect((unauth as { data: { httpStatus: number } }).data.httpStatus).toBe(401);

    const authed = transport(session.accessToken);
    const me = await authed.trpc.auth.me.query();
    expect(me.userId).toBe(session.userId);
    const mismatch = await authed.trpc.messages.send
      .mutate({
        recipientId: session.userId,
        messages: [{ deviceId: 9, registrationId: 1, type: 'message', content: 'AAAA' }],
      })
      .catch((e: unknown) => e);
    expect(errorCode(mismatch)).toBe('MISMATCHED_DEVICES');
    expect(errorDetails(mismatch)).toEqual({ missingDevices: [], extraDevices: [9] });
    t.close();
    authed.close();
  });

  it('the subscription delivers the same events, in the same order and with the same content, as the raw stream', async () => {
    const alice = await createUser(api, otp, { ip: randomIp() });
    const bob = await createUser(api, otp, { ip: randomIp() });
    const bobDevice = await SignalDevice.create({ userId: bob.userId, deviceId: 1 });
    await api.post('/keys/upload', await bobDevice.generateKeys({ preKeys: 3, kyberPreKeys: 1 }), {
      token: bob.accessToken,
    });
    const send = (text: string) =>
      api.post(
        '/messages/send',
        {
          recipientId: bob.userId,
          messages: [
            {
              deviceId: 1,
              registrationId: bobDevice.registrationId,
              type: 'message',
              content: Buffer.from(text).toString('base64'),
            },
          ],
        },
        { token: alice.accessToken },
      );
    for (let i = 0; i < 5; i++) expect((await send(`queued ${i}`)).status).toBe(200);

    // Raw WebSocket: backlog, queue.empty, keys.low (3 prekeys < 10), then one live message. No acks.
    const raw = await TestSocket.connect(server.url, bob.accessToken);
    const rawFrames: Frame[] = await raw.collect((f) => f.type === 'keys.low');
    await send('live');
    rawFrames.push(await raw.next((f) => f.type === 'message'));
    raw.close();
    await raw.closed;

    // tRPC subscription for the same device: the unacknowledged envelopes come again, same order.
    const t = transport(bob.accessToken);
    const trpcFrames: Frame[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const sub = t.trpc.messages.events.subscribe(undefined, {
        onData: (e) => {
          trpcFrames.push(e as Frame);
          if (trpcFrames.length === rawFrames.length) {
            sub.unsubscribe();
            resolve();
          }
        },
        onError: reject,
      });
    });
    await done;
    // The live message arrived live on the raw stream and is queued by now: here it precedes queue.empty.
    expect(rawFrames.map((f) => f.type)).toEqual([...Array(5).fill('message'), 'queue.empty', 'keys.low', 'message']);
    expect(trpcFrames.map((f) => f.type)).toEqual([...Array(6).fill('message'), 'queue.empty', 'keys.low']);
    const byId = (frames: Frame[]) => frames.filter((f) => f.type === 'message').map((f) => f.envelope);
    expect(byId(trpcFrames)).toEqual(byId(rawFrames));
    expect(trpcFrames.filter((f) => f.type !== 'message')).toEqual(rawFrames.filter((f) => f.type !== 'message'));

    // Live over tRPC too, and status events flow to the sender's subscription.
    const ta = transport(alice.accessToken);
    const statuses: Frame[] = [];
    const aliceSub = ta.trpc.messages.events.subscribe(undefined, { onData: (e) => statuses.push(e as Frame) });
    const live: Frame[] = [];
    const bobSub = t.trpc.messages.events.subscribe(undefined, { onData: (e) => live.push(e as Frame) });
    const waitFor = async (pred: () => boolean) => {
      for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(pred()).toBe(true);
    };
    await waitFor(() => live.some((f) => f.type === 'queue.empty') && statuses.some((f) => f.type === 'queue.empty'));
    const r = await send('over trpc live');
    await waitFor(() => live.some((f) => f.type === 'message' && f.envelope.id === r.body.messages[0].messageId));
    await t.trpc.messages.ack.mutate({ ids: [r.body.messages[0].messageId] });
    await waitFor(() =>
      statuses.some(
        (f) => f.type === 'message.status' && f.id === r.body.messages[0].messageId && f.status === 'delivered',
      ),
    );
    aliceSub.unsubscribe();
    bobSub.unsubscribe();
    t.close();
    ta.close();
  });
});
