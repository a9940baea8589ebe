import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { client, createUser, linkDevice, type TestUser } from '../helpers/api.js';
import { startTestServer } from '../helpers/server.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

const blob = (s: string) => Buffer.from(s).toString('base64');

describe('store-and-forward delivery rules', () => {
  let { server, otp, api, db } = {} as ServerContext;
  useServer({}, (c) => ({ server, otp, api, db } = c));

  /** A user whose devices have uploaded keys (so they count as registered). */
  async function registered(devices = 1): Promise<{ sessions: TestUser[]; regIds: number[]; first: SignalDevice }> {
    const u = await createUser(api, otp);
    const sessions = [u];
    for (let i = 1; i < devices; i++) sessions.push(await linkDevice(api, u));
    const regIds: number[] = [];
    let first: SignalDevice | undefined;
    for (const s of sessions) {
      const d = await SignalDevice.create({ userId: u.userId, deviceId: s.deviceId, identity: first?.identity });
      first ??= d;
      const r = await api.post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
        token: s.accessToken,
      });
      if (r.status !== 200) throw new Error(`upload: ${JSON.stringify(r.body)}`);
      regIds.push(d.registrationId);
    }
    return { sessions, regIds, first: first as SignalDevice };
  }

  const envelope = (deviceId: number, registrationId: number, text: string) => ({
    deviceId,
    registrationId,
    type: 'message',
    content: blob(text),
  });

  it('offline recipient: 1,000 messages arrive in order, then queue.empty; again without ack; never again after ack', async () => {
    const alice = await registered();
    const bob = await registered();
    const token = alice.sessions[0]?.accessToken;
    for (let i = 0; i < 1000; i += 50) {
      // 50 concurrent senders at a time; order is the order the server accepted them.
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          api.post(
            '/messages/send',
            { recipientId: bob.sessions[0]?.userId, messages: [envelope(1, bob.regIds[0] as number, `m${i + j}`)] },
            { token },
          ),
        ),
      );
    }
    const seqOrder = await db.query('SELECT id FROM messages WHERE recipient_id = $1 ORDER BY seq', [
      bob.sessions[0]?.userId,
    ]);
    const bobToken = bob.sessions[0]?.accessToken as string;
    const first = await TestSocket.connect(server.url, bobToken);
    const frames = await first.collect((f) => f.type === 'queue.empty');
    const msgs = frames.filter((f) => f.type === 'message');
    expect(msgs).toHaveLength(1000);
    expect(msgs.map((f) => f.envelope.id)).toEqual(seqOrder.rows.map((r) => r.id));
    first.close();
    await first.closed;

    const second = await TestSocket.connect(server.url, bobToken);
    const again = (await second.collect((f) => f.type === 'queue.empty')).filter((f) => f.type === 'message');
    expect(again.map((f) => f.envelope.id)).toEqual(msgs.map((f) => f.envelope.id));
    const ids = again.map((f) => f.envelope.id as string);
    for (let i = 0; i < ids.length; i += 1000) second.send({ type: 'ack', ids: ids.slice(i, i + 1000) });
    // Acks are async; the REST queue reflects them.
    for (let t = 0; t < 50; t++) {
      if ((await api.get('/messages/queue', { token: bobToken })).body.messages.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    second.close();
    await second.closed;
    const third = await TestSocket.connect(server.url, bobToken);
    expect(await third.collect((f) => f.type === 'queue.empty')).toEqual([{ type: 'queue.empty' }]);
    third.close();
  }, 120_000);

  it('ciphertext and iv arrive byte for byte, live and from the queue: "NULL" (valid base64), empty and null iv, large content', async () => {
    const alice = await registered();
    const bob = await registered();
    const regId = bob.regIds[0] as number;
    const big = Buffer.alloc(200_000, 0xfe).toString('base64');
    const sent = [
      { deviceId: 1, registrationId: regId, type: 'message', content: 'NULL', iv: 'NULL', messageNumber: 0 },
      { deviceId: 1, registrationId: regId, type: 'prekey', content: 'YQ==', iv: '', messageNumber: null },
      { deviceId: 1, registrationId: regId, type: 'receipt', content: big, iv: null },
    ];
    const live = await TestSocket.connect(server.url, bob.sessions[0]?.accessToken as string);
    await live.next((f) => f.type === 'queue.empty');
    for (const m of sent) {
      const r = await api.post(
        '/messages/send',
        { recipientId: bob.sessions[0]?.userId, messages: [m] },
        { token: alice.sessions[0]?.accessToken },
      );
      expect(r.status, JSON.stringify(r.body).slice(0, 200)).toBe(200);
    }
    const expected = sent.map((m) => ({
      type: m.type,
      content: m.content,
      iv: m.iv,
      messageNumber: m.messageNumber ?? null,
    }));
    const shape = (f: unknown) => {
      const e = (f as { envelope: Record<string, unknown> }).envelope;
      return { type: e.type, content: e.content, iv: e.iv, messageNumber: e.messageNumber };
    };
    const pushed = [];
    for (let i = 0; i < sent.length; i++) pushed.push(await live.next((f) => f.type === 'message'));
    expect(pushed.map(shape)).toEqual(expected);
    live.close();
    await live.closed;
    // The same bytes when read back from PostgreSQL (no ack was sent).
    const queued = await api.get('/messages/queue', { token: bob.sessions[0]?.accessToken });
    expect(queued.body.messages.map((e: Record<string, unknown>) => shape({ envelope: e }))).toEqual(expected);
  });

  it('409 MISMATCHED_DEVICES, 410 STALE_DEVICES (nothing stored), the shorthand, and self-sends', async () => {
    const alice = await registered();
    const bob = await registered(2);
    const token = alice.sessions[0]?.accessToken;
    const recipientId = bob.sessions[0]?.userId;
    const count = async () =>
      (await db.query('SELECT count(*)::int AS n FROM messages WHERE recipient_id = $1', [recipientId])).rows[0].n;

    const missing = await api.post(
      '/messages/send',
      { recipientId, messages: [envelope(1, bob.regIds[0] as number, 'x')] },
      { token },
    );
    expect(missing.status).toBe(409);
    expect(missing.body.error).toMatchObject({
      code: 'MISMATCHED_DEVICES',
      details: { missingDevices: [2], extraDevices: [] },
    });
    const extra = await api.post(
      '/messages/send',
      {
        recipientId,
        messages: [
          envelope(1, bob.regIds[0] as number, 'x'),
          envelope(2, bob.regIds[1] as number, 'x'),
          envelope(7, 1, 'x'),
        ],
      },
      { token },
    );
    expect(extra.body.error.details).toEqual({ missingDevices: [], extraDevices: [7] });
    const stale = await api.post(
      '/messages/send',
      {
        recipientId,
        messages: [
          envelope(1, bob.regIds[0] as number, 'x'),
          envelope(2, ((bob.regIds[1] as number) % 16000) + 1, 'x'),
        ],
      },
      { token },
    );
    expect(stale.status).toBe(410);
    expect(stale.body.error).toMatchObject({ code: 'STALE_DEVICES', details: { staleDevices: [2] } });
    expect(await count()).toBe(0);

    // Shorthand: only for a single registered device.
    const short = { recipientId, encryptedContent: blob('legacy'), iv: blob('iv'), messageNumber: 3 };
    expect((await api.post('/messages/send', short, { token })).body.error.code).toBe('MISMATCHED_DEVICES');
    const carol = await registered();
    const ok = await api.post('/messages/send', { ...short, recipientId: carol.sessions[0]?.userId }, { token });
    expect(ok.status).toBe(200);
    const q = await api.get('/messages/queue', { token: carol.sessions[0]?.accessToken });
    expect(q.body.messages[0]).toMatchObject({
      type: 'message',
      content: blob('legacy'),
      iv: blob('iv'),
      messageNumber: 3,
    });

    // Sending to yourself covers your other devices only.
    const self = await api.post(
      '/messages/send',
      { recipientId, messages: [envelope(2, bob.regIds[1] as number, 'note to self')] },
      { token: bob.sessions[0]?.accessToken },
    );
    expect(self.status).toBe(200);
  });

  it('message ids are time-ordered UUIDs (v7): distinct, and later sends sort after earlier ones', async () => {
    const alice = await registered();
    const bob = await registered();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await api.post(
        '/messages/send',
        { recipientId: bob.sessions[0]?.userId, messages: [envelope(1, bob.regIds[0] as number, `m${i}`)] },
        { token: alice.sessions[0]?.accessToken },
      );
      expect(r.status).toBe(200);
      ids.push(r.body.messages[0].messageId);
      await new Promise((res) => setTimeout(res, 2));
    }
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(5);
    expect([...ids].sort()).toEqual(ids);
    // The 48-bit prefix is the send time in ms, close to the reply's clock.
    expect(Math.abs(Number.parseInt(ids[0]?.replace('-', '').slice(0, 12) ?? '', 16) - Date.now())).toBeLessThan(
      60_000,
    );
  });

  it('idempotent retry: same clientMessageId → same reply, one stored row, even if the body differs', async () => {
    const alice = await registered();
    const bob = await registered();
    const token = alice.sessions[0]?.accessToken;
    const clientMessageId = randomUUID();
    const body = {
      recipientId: bob.sessions[0]?.userId,
      clientMessageId,
      messages: [envelope(1, bob.regIds[0] as number, 'once')],
    };
    const replies = await Promise.all([1, 2, 3].map(() => api.post('/messages/send', body, { token })));
    const later = await api.post(
      '/messages/send',
      { ...body, messages: [envelope(1, bob.regIds[0] as number, 'different')] },
      { token },
    );
    for (const r of [...replies, later]) {
      expect(r.status).toBe(200);
      expect(r.body).toEqual(replies[0]?.body);
    }
    const rows = await db.query('SELECT encrypted_content FROM messages WHERE client_message_id = $1', [
      clientMessageId,
    ]);
    expect(rows.rows).toHaveLength(1);
    expect(Buffer.from(rows.rows[0].encrypted_content).toString()).toBe('once');

    // A retry after the recipient linked another device would now be a 409; it still gets the first reply.
    const bobUser = bob.sessions[0] as TestUser;
    const d2 = await linkDevice(api, bobUser);
    const dev2 = await SignalDevice.create({
      userId: bobUser.userId,
      deviceId: d2.deviceId,
      identity: bob.first.identity,
    });
    const up = await api.post('/keys/upload', await dev2.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
      token: d2.accessToken,
    });
    expect(up.status).toBe(200);
    const fresh = await api.post('/messages/send', { ...body, clientMessageId: randomUUID() }, { token });
    expect(fresh.body.error).toMatchObject({ code: 'MISMATCHED_DEVICES', details: { missingDevices: [d2.deviceId] } });
    const afterLink = await api.post('/messages/send', body, { token });
    expect(afterLink.status).toBe(200);
    expect(afterLink.body).toEqual(replies[0]?.body);
  });

  it('status: only the recipient device sets it (others get the same 404 as for a random id), never backwards', async () => {
    const alice = await registered();
    const bob = await registered(2);
    const sent = await api.post(
      '/messages/send',
      {
        recipientId: bob.sessions[0]?.userId,
        messages: [envelope(1, bob.regIds[0] as number, 'a'), envelope(2, bob.regIds[1] as number, 'a')],
      },
      { token: alice.sessions[0]?.accessToken },
    );
    const id = sent.body.messages[0].messageId;
    const randomId = await api.put(
      `/messages/${randomUUID()}/status`,
      { status: 'read' },
      {
        token: alice.sessions[0]?.accessToken,
      },
    );
    expect(randomId.status).toBe(404);
    for (const token of [alice.sessions[0]?.accessToken, bob.sessions[1]?.accessToken]) {
      const r = await api.put(`/messages/${id}/status`, { status: 'read' }, { token });
      // No existence oracle: someone else's message and no message answer alike.
      expect({ status: r.status, body: r.body }).toEqual({ status: randomId.status, body: randomId.body });
    }
    const bobToken = bob.sessions[0]?.accessToken;
    expect((await api.put(`/messages/${id}/status`, { status: 'read' }, { token: bobToken })).body).toEqual({
      id,
      status: 'read',
    });
    expect((await api.put(`/messages/${id}/status`, { status: 'delivered' }, { token: bobToken })).body).toEqual({
      id,
      status: 'read',
    });
    expect((await api.put(`/messages/${id}/status`, { status: 'sent' }, { token: bobToken })).status).toBe(400);
    expect((await api.put(`/messages/${randomUUID()}/status`, { status: 'read' }, { token: bobToken })).status).toBe(
      404,
    );
    // REST ack: ids unknown or not addressed to the caller are ignored.
    expect(
      (
        await api.post(
          '/messages/ack',
          { ids: [sent.body.messages[1].messageId, randomUUID(), 'junk'] },
          { token: bobToken },
        )
      ).status,
    ).toBe(204);
    const other = await db.query('SELECT status::text FROM messages WHERE id = $1', [sent.body.messages[1].messageId]);
    expect(other.rows[0].status).toBe('sent');
    expect((await api.post('/messages/ack', { ids: Array(1001).fill(id) }, { token: bobToken })).status).toBe(400);
  });

  it('WebSocket: 401 upgrade without a valid token, one socket per device (4409), bad frames answered, ping/pong, 1009 over 512 KiB', async () => {
    const bob = await registered();
    const token = bob.sessions[0]?.accessToken as string;
    await expect(TestSocket.connect(server.url, 'not-a-token')).rejects.toThrow('401');
    const a = await TestSocket.connect(server.url, token);
    await a.next((f) => f.type === 'queue.empty');
    const b = await TestSocket.connect(server.url, token, 'query');
    expect((await a.closed).code).toBe(4409);
    await b.next((f) => f.type === 'queue.empty');

    b.ws.send('{not json');
    expect(await b.next((f) => f.type === 'error')).toMatchObject({ code: 'VALIDATION_FAILED' });
    b.send({ type: 'dance' });
    expect(await b.next((f) => f.type === 'error')).toMatchObject({ code: 'VALIDATION_FAILED' });
    b.send({ type: 'send', requestId: 'q1', recipientId: 'nope', messages: [] });
    expect(await b.next((f) => f.type === 'error')).toMatchObject({ code: 'VALIDATION_FAILED', requestId: 'q1' });
    b.send({ type: 'ping' });
    expect(await b.next()).toEqual({ type: 'pong' });
    b.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(600 * 1024) }));
    expect((await b.closed).code).toBe(1009);
  });

  it('logout closes the device socket with 4401; a ban closes it with 4403', async () => {
    const bob = await registered(2);
    const s1 = await TestSocket.connect(server.url, bob.sessions[1]?.accessToken as string);
    await s1.next((f) => f.type === 'queue.empty');
    await api.post('/auth/logout', undefined, { token: bob.sessions[1]?.accessToken });
    expect((await s1.closed).code).toBe(4401);
    const s0 = await TestSocket.connect(server.url, bob.sessions[0]?.accessToken as string);
    await s0.next((f) => f.type === 'queue.empty');
    await server.services.accounts.setBanned(bob.sessions[0]?.userId as string, true);
    expect((await s0.closed).code).toBe(4403);
    const refused = new WebSocket(
      `${server.url.replace('http', 'ws')}/api/v1/messages/stream?token=${bob.sessions[0]?.accessToken}`,
    );
    const status = await new Promise<number>((r) =>
      refused.on('unexpected-response', (_q, res) => r(res.statusCode ?? 0)),
    );
    expect(status).toBe(403);
  });

  it('heartbeat: a peer that stops answering protocol pings is dropped after two missed ones', async () => {
    const quick = await startTestServer({ OTP_WEBHOOK_URL: otp.url, WS_PING_INTERVAL_S: '1' });
    try {
      const bob = await createUser(client(quick.url), otp);
      // autoPong off: this client never answers pings, like a dead peer.
      const ws = new WebSocket(`${quick.url.replace('http', 'ws')}/api/v1/messages/stream`, {
        headers: { authorization: `Bearer ${bob.accessToken}` },
        autoPong: false,
      });
      const t0 = Date.now();
      const closed = await new Promise<number>((r) => ws.on('close', (c) => r(c)));
      expect(closed).toBe(1006);
      expect(Date.now() - t0).toBeLessThan(6_000);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2_000);
    } finally {
      await quick.close();
    }
  });

  it('keys.low on connect while the device is below the watermark', async () => {
    const bob = await registered();
    const s = await TestSocket.connect(server.url, bob.sessions[0]?.accessToken as string);
    await s.next((f) => f.type === 'queue.empty');
    expect(await s.next()).toEqual({ type: 'keys.low', preKeyCount: 1, kyberPreKeyCount: 1 });
    s.close();
  });
});
