import { describe, expect, it } from 'vitest';
import { encryptFor, signalAccount } from '../helpers/e2ee.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { TestSocket } from '../helpers/ws-client.js';

describe('a real E2EE conversation through the server (libsignal both ends)', () => {
  let { server, otp, api } = {} as ServerContext;
  useServer({}, (c) => ({ server, otp, api } = c));

  it('Alice → Bob (two devices) over REST and the WS send frame; receipts delivered then read; Bob replies', async () => {
    const alice = await signalAccount(api, otp, 1);
    const bob = await signalAccount(api, otp, 2);
    const aliceWs = await TestSocket.connect(server.url, alice.sessions[0]?.accessToken as string);
    const bobWs = await Promise.all(
      bob.sessions.map((s, i) => TestSocket.connect(server.url, s.accessToken, i ? 'query' : 'header')),
    );
    for (const s of [aliceWs, ...bobWs]) await s.next((f) => f.type === 'queue.empty');

    // 1. Over REST.
    const body = await encryptFor(api, alice, 0, bob, 'hi Bob, over REST');
    const sent = await api.post('/messages/send', body, { token: alice.sessions[0]?.accessToken });
    expect(sent.status).toBe(200);
    expect(sent.body.messages.map((m: { deviceId: number }) => m.deviceId)).toEqual([1, 2]);
    for (const [i, ws] of bobWs.entries()) {
      const f = await ws.next((x) => x.type === 'message');
      expect(f.envelope).toMatchObject({
        senderId: alice.userId,
        senderDeviceId: 1,
        recipientId: bob.userId,
        recipientDeviceId: i + 1,
        type: 'prekey',
        status: 'sent',
      });
      expect(await bob.devices[i]?.decrypt(alice.userId, 1, f.envelope)).toBe('hi Bob, over REST');
      ws.send({ type: 'ack', ids: [f.envelope.id] });
    }
    const delivered = await aliceWs.next((f) => f.type === 'message.status');
    expect(delivered).toMatchObject({ type: 'message.status', status: 'delivered', at: expect.any(String) });
    expect(sent.body.messages.map((m: { messageId: string }) => m.messageId)).toContain(delivered.id);
    const read = await api.put(
      `/messages/${sent.body.messages[0].messageId}/status`,
      { status: 'read' },
      { token: bob.sessions[0]?.accessToken },
    );
    expect(read.body).toEqual({ id: sent.body.messages[0].messageId, status: 'read' });
    expect(await aliceWs.next((f) => f.type === 'message.status' && f.status === 'read')).toMatchObject({
      id: sent.body.messages[0].messageId,
    });

    // 2. Over the WebSocket send frame.
    const body2 = await encryptFor(api, alice, 0, bob, 'and over the socket');
    aliceWs.send({ type: 'send', requestId: 'r-1', ...body2 });
    const result = await aliceWs.next((f) => f.type === 'send.result');
    expect(result).toMatchObject({
      requestId: 'r-1',
      messages: [{ deviceId: 1 }, { deviceId: 2 }],
      serverTimestamp: expect.any(String),
    });
    for (const [i, ws] of bobWs.entries()) {
      const f = await ws.next((x) => x.type === 'message');
      expect(await bob.devices[i]?.decrypt(alice.userId, 1, f.envelope)).toBe('and over the socket');
      ws.send({ type: 'ack', ids: [f.envelope.id] });
    }

    // 3. Bob replies from device 2 (to Alice, and to his own device 1); Alice decrypts.
    const reply = await encryptFor(api, bob, 1, alice, 'hello Alice');
    expect((await api.post('/messages/send', reply, { token: bob.sessions[1]?.accessToken })).status).toBe(200);
    const got = await aliceWs.next((f) => f.type === 'message');
    expect(got.envelope.senderDeviceId).toBe(2);
    expect(await alice.devices[0]?.decrypt(bob.userId, 2, got.envelope)).toBe('hello Alice');

    // The conversation as Alice sees it: Bob's envelope with content, hers without, newest first.
    const conv = await api.get(`/messages/${bob.userId}?limit=50`, { token: alice.sessions[0]?.accessToken });
    expect(conv.status).toBe(200);
    expect(conv.body.messages[0]).toMatchObject({ id: got.envelope.id, content: got.envelope.content });
    expect(
      conv.body.messages
        .slice(1)
        .every((m: { senderId: string; content: null }) => m.senderId === alice.userId && m.content === null),
    ).toBe(true);
    expect(conv.body.messages).toHaveLength(5);
    expect(conv.body.nextCursor).toBeNull();
    for (const s of [aliceWs, ...bobWs]) s.close();
  });
});
