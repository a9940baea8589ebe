import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import {
  type Envelope,
  EnvelopeType,
  KeyExchangeService,
  MessageService,
  MessageStatus,
  type StreamMessagesResponse,
} from '@snaptalker/proto';
import { describe, expect, it } from 'vitest';
import { createUser, linkDevice, type TestUser } from '../helpers/api.js';
import { bundleJson, grpcClient, uploadRequest } from '../helpers/grpc-client.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { b64, fromB64, SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

const wireType = { prekey: EnvelopeType.PREKEY, message: EnvelopeType.MESSAGE } as const;
const jsonType = (t: EnvelopeType) => (t === EnvelopeType.PREKEY ? 'prekey' : 'message');
const envelopeOf = (m: StreamMessagesResponse) => (m.event.case === 'envelope' ? m.event.value : undefined);

describe('a real E2EE conversation over gRPC (libsignal both ends), sharing the service layer with REST/WS', () => {
  let { server, otp, api } = {} as ServerContext;
  useServer({}, (c) => ({ server, otp, api } = c));

  const keys = (s: TestUser) => grpcClient(KeyExchangeService, server.grpcPort, { token: s.accessToken });
  const messages = (s: TestUser) => grpcClient(MessageService, server.grpcPort, { token: s.accessToken });

  it('Alice → Bob (device 1 on StreamMessages, device 2 on the WebSocket), GetMessages, acks and a reply', async () => {
    // Accounts over REST; keys over gRPC.
    const aliceS = await createUser(api, otp);
    const bob1S = await createUser(api, otp);
    const bob2S = await linkDevice(api, bob1S);
    const alice = await SignalDevice.create({ userId: aliceS.userId, deviceId: 1 });
    const bob1 = await SignalDevice.create({ userId: bob1S.userId, deviceId: 1 });
    const bob2 = await SignalDevice.create({ userId: bob1S.userId, deviceId: 2, identity: bob1.identity });
    for (const [dev, session] of [
      [alice, aliceS],
      [bob1, bob1S],
      [bob2, bob2S],
    ] as const) {
      const counts = await keys(session).uploadKeyBundle(
        uploadRequest(await dev.generateKeys({ preKeys: 20, kyberPreKeys: 5 })),
      );
      expect(counts).toMatchObject({ preKeyCount: 20, kyberPreKeyCount: 5 });
    }

    const aliceMsgs = messages(aliceS);
    const bob1Msgs = messages(bob1S);
    const aliceStream = aliceMsgs.streamMessages({});
    const bobStream = bob1Msgs.streamMessages({});
    for (const s of [aliceStream, bobStream]) await s.next((m) => m.event.case === 'queueEmpty');
    const bob2Ws = await TestSocket.connect(server.url, bob2S.accessToken);
    await bob2Ws.next((f) => f.type === 'queue.empty');

    // Alice fetches Bob's bundle (both devices) over gRPC and starts a session with each.
    const bundle = await keys(aliceS).getKeyBundle({ userId: bob1S.userId });
    expect(bundle.devices.map((d) => d.deviceId)).toEqual([1, 2]);
    expect(b64(bundle.identityKey)).toBe(bob1.identityKeyB64());
    expect(bundle.devices.every((d) => d.preKey && d.kyberPreKey?.publicKey.length === 1569)).toBe(true);
    for (const d of [bob1, bob2]) await alice.startSession(bundleJson(bundle), d.deviceId);

    const encryptForBob = async (text: string) =>
      Promise.all(
        [bob1, bob2].map(async (d) => {
          const c = await alice.encrypt(bob1S.userId, d.deviceId, text);
          return {
            deviceId: d.deviceId,
            registrationId: d.registrationId,
            type: wireType[c.type],
            content: fromB64(c.content),
          };
        }),
      );
    const decrypt = (d: SignalDevice, from: string, fromDevice: number, e: Envelope) =>
      d.decrypt(from, fromDevice, { type: jsonType(e.type), content: b64(e.content as Uint8Array) });

    // 1. Sent over gRPC, received live on both transports.
    const sent = await aliceMsgs.sendMessage({
      recipientId: bob1S.userId,
      clientMessageId: randomUUID(),
      messages: await encryptForBob('hi Bob, over gRPC'),
    });
    expect(sent.messages.map((m) => m.deviceId)).toEqual([1, 2]);
    expect(new Date(sent.serverTimestamp).toISOString()).toBe(sent.serverTimestamp);

    const e1 = envelopeOf(await bobStream.next((m) => m.event.case === 'envelope')) as Envelope;
    expect(e1).toMatchObject({
      id: sent.messages[0]?.messageId,
      senderId: aliceS.userId,
      senderDeviceId: 1,
      recipientId: bob1S.userId,
      recipientDeviceId: 1,
      type: EnvelopeType.PREKEY,
      status: MessageStatus.SENT,
    });
    expect(await decrypt(bob1, aliceS.userId, 1, e1)).toBe('hi Bob, over gRPC');
    await bob1Msgs.markDelivered({ ids: [e1.id] });

    const w1 = await bob2Ws.next((f) => f.type === 'message');
    expect(w1.envelope).toMatchObject({ id: sent.messages[1]?.messageId, recipientDeviceId: 2, type: 'prekey' });
    expect(await bob2.decrypt(aliceS.userId, 1, w1.envelope)).toBe('hi Bob, over gRPC');
    bob2Ws.send({ type: 'ack', ids: [w1.envelope.id] });

    // Alice's stream carries the status changes of both envelopes.
    const delivered = new Set<string>();
    while (delivered.size < 2) {
      const m = await aliceStream.next((x) => x.event.case === 'messageStatus');
      if (m.event.case === 'messageStatus' && m.event.value.status === MessageStatus.DELIVERED)
        delivered.add(m.event.value.id);
    }
    expect([...delivered].sort()).toEqual(sent.messages.map((m) => m.messageId).sort());

    // 2. Bob's device 1 goes away; the next envelope waits in its queue and GetMessages returns it.
    bobStream.cancel();
    expect((await bobStream.status).code).toBe(status.CANCELLED);
    const sent2 = await aliceMsgs.sendMessage({
      recipientId: bob1S.userId,
      messages: await encryptForBob('while you were away'),
    });
    const w2 = await bob2Ws.next((f) => f.type === 'message');
    expect(await bob2.decrypt(aliceS.userId, 1, w2.envelope)).toBe('while you were away');

    const queued = await bob1Msgs.getMessages({}).all();
    expect(queued.status.code).toBe(status.OK);
    expect(queued.messages.map((m) => m.item.case)).toEqual(['envelope', 'end']);
    const [first, end] = queued.messages;
    expect(end?.item).toEqual({ case: 'end', value: expect.objectContaining({ more: false }) });
    const e2 = first?.item.value as Envelope;
    expect(e2.id).toBe(sent2.messages[0]?.messageId);
    expect(await decrypt(bob1, aliceS.userId, 1, e2)).toBe('while you were away');
    await bob1Msgs.markDelivered({ ids: [e2.id] });
    expect((await bob1Msgs.getMessages({}).all()).messages.map((m) => m.item.case)).toEqual(['end']);

    // 3. Bob replies from device 1 over gRPC (a SignalMessage now); Alice decrypts from her stream.
    const reply = await bob1.encrypt(aliceS.userId, 1, 'hello Alice');
    expect(reply.type).toBe('message');
    await bob1Msgs.sendMessage({
      recipientId: aliceS.userId,
      messages: [
        {
          deviceId: 1,
          registrationId: alice.registrationId,
          type: EnvelopeType.MESSAGE,
          content: fromB64(reply.content),
        },
      ],
    });
    const got = envelopeOf(await aliceStream.next((m) => m.event.case === 'envelope')) as Envelope;
    expect(got).toMatchObject({ senderId: bob1S.userId, senderDeviceId: 1, type: EnvelopeType.MESSAGE });
    expect(await decrypt(alice, bob1S.userId, 1, got)).toBe('hello Alice');

    aliceStream.cancel();
    bob2Ws.close();
    aliceMsgs.close();
    bob1Msgs.close();
  });
});
