import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { type Client, client, linkDevice, type TestUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';
import type { TestSocket } from '../helpers/ws-client.js';
import { nothingAbout, ofCall, SDP_ANSWER, SDP_OFFER, seen, signal, users } from './helpers.js';

const TURN_SECRET = 'turn-secret-for-tests';

describe('calls: signaling state machine on PostgreSQL + Redis', () => {
  let server: RunningServer;
  let api: Client;
  let otp: OtpWebhook;
  const sockets: TestSocket[] = [];
  const open = async (u: TestUser) => {
    const s = await signal(server.url, u);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await startTestServer({
      OTP_WEBHOOK_URL: otp.url,
      TURN_SECRET,
      TURN_URLS: 'turn:127.0.0.1:3478?transport=udp,stun:127.0.0.1:3478',
      TURN_TTL_S: '600',
    });
    api = client(server.url);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await server?.close();
    await otp?.stop();
  });

  it('offer → ringing → answer → ice both ways → hangup, recorded, in both histories', async () => {
    const [alice, bob, stranger] = (await users(api, otp, 3)) as [TestUser, TestUser, TestUser];
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'video' });
    const offer = await b.next(ofCall(callId, 'offer'));
    expect(offer).toEqual({
      type: 'offer',
      callId,
      sdp: SDP_OFFER,
      media: 'video',
      from: { userId: alice.userId, deviceId: 1 },
    });
    b.send({ type: 'ringing', callId });
    expect(await a.next(ofCall(callId, 'ringing'))).toMatchObject({ from: { userId: bob.userId, deviceId: 1 } });
    expect((await api.get(`/calls/${callId}`, { token: bob.accessToken })).body).toMatchObject({
      callId,
      callerId: alice.userId,
      calleeId: bob.userId,
      media: 'video',
      state: 'ringing',
      answeredAt: null,
      endReason: null,
    });
    b.send({ type: 'answer', callId, sdp: SDP_ANSWER });
    expect(await a.next(ofCall(callId, 'answer'))).toEqual({
      type: 'answer',
      callId,
      sdp: SDP_ANSWER,
      from: { userId: bob.userId, deviceId: 1 },
    });
    a.send({ type: 'ice', callId, candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host' });
    b.send({ type: 'ice', callId, candidate: 'candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host' });
    expect((await b.next(ofCall(callId, 'ice'))).candidate).toContain('50000');
    expect((await a.next(ofCall(callId, 'ice'))).candidate).toContain('50001');
    const connected = await api.get(`/calls/${callId}`, { token: alice.accessToken });
    expect(connected.body.state).toBe('connected');
    expect(connected.body.answeredAt).not.toBeNull();
    // Not a party: 404, like an unknown call.
    expect((await api.get(`/calls/${callId}`, { token: stranger.accessToken })).status).toBe(404);
    expect((await api.get(`/calls/${randomUUID()}`, { token: alice.accessToken })).status).toBe(404);

    a.send({ type: 'hangup', callId });
    expect(await b.next(ofCall(callId, 'hangup'))).toMatchObject({ reason: 'hangup' });
    const ended = await api.get(`/calls/${callId}`, { token: bob.accessToken });
    expect(ended.body).toMatchObject({ state: 'ended', endReason: 'hangup' });
    expect(ended.body.endedAt).not.toBeNull();
    // Frames for an ended call: an error with the callId, nothing relayed.
    const mark = a.frames.length;
    b.send({ type: 'ice', callId, candidate: 'late' });
    expect(await b.next((f) => f.type === 'error' && f.callId === callId)).toMatchObject({ code: 'CONFLICT' });
    await nothingAbout(a, callId, mark);
    for (const u of [alice, bob]) {
      const h = await api.get('/calls', { token: u.accessToken });
      expect(h.status).toBe(200);
      expect(h.body.calls.map((c: { callId: string }) => c.callId)).toContain(callId);
    }
    expect((await api.get('/calls', { token: stranger.accessToken })).body).toEqual({ calls: [], nextCursor: null });
  });

  it('two callee devices ring; the first answer wins and the other gets answered-elsewhere', async () => {
    const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
    const bob2 = await linkDevice(api, bob);
    const [a, b1, b2] = await Promise.all([open(alice), open(bob), open(bob2)]);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    await b1.next(ofCall(callId, 'offer'));
    await b2.next(ofCall(callId, 'offer'));
    b2.send({ type: 'answer', callId, sdp: SDP_ANSWER });
    expect(await a.next(ofCall(callId, 'answer'))).toMatchObject({
      from: { userId: bob.userId, deviceId: bob2.deviceId },
    });
    expect(await b1.next(ofCall(callId, 'answered-elsewhere'))).toEqual({ type: 'answered-elsewhere', callId });
    // The losing device may no longer signal on the call; nothing of it reaches the caller.
    b1.send({ type: 'answer', callId, sdp: SDP_ANSWER });
    expect((await b1.next((f) => f.type === 'error' && f.callId === callId)).code).toMatch(/CONFLICT|FORBIDDEN/);
    b1.send({ type: 'ice', callId, candidate: 'from the other device' });
    expect(await b1.next((f) => f.type === 'error' && f.callId === callId)).toMatchObject({ code: 'FORBIDDEN' });
    // After the answer, frames go between the two connected devices only.
    a.send({ type: 'ice', callId, candidate: 'to the answering device' });
    expect((await b2.next(ofCall(callId, 'ice'))).candidate).toBe('to the answering device');
    await nothingAbout(b1, `${callId}-none`);
    expect(b1.frames.filter((f) => f.callId === callId && f.type === 'ice')).toEqual([]);
    b2.send({ type: 'hangup', callId });
    expect(await a.next(ofCall(callId, 'hangup'))).toMatchObject({ reason: 'hangup' });
    expect((await api.get(`/calls/${callId}`, { token: bob2.accessToken })).body.endReason).toBe('hangup');
    expect((await api.get(`/calls/${callId}`, { token: bob.accessToken })).body.endReason).toBe('answered-elsewhere');
  });

  it('reject or busy from every ringing device ends the call for the caller', async () => {
    const [alice, bob, carol] = (await users(api, otp, 3)) as [TestUser, TestUser, TestUser];
    const bob2 = await linkDevice(api, bob);
    const [a, b1, b2, c] = await Promise.all([open(alice), open(bob), open(bob2), open(carol)]);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    await b1.next(ofCall(callId, 'offer'));
    await b2.next(ofCall(callId, 'offer'));
    b1.send({ type: 'reject', callId });
    // One device declined, the other still rings: the caller hears nothing yet.
    await nothingAbout(a, callId);
    expect((await api.get(`/calls/${callId}`, { token: alice.accessToken })).body.state).toBe('ringing');
    b2.send({ type: 'busy', callId });
    expect(await a.next(ofCall(callId, 'reject'))).toMatchObject({ from: { userId: bob.userId } });
    expect((await api.get(`/calls/${callId}`, { token: alice.accessToken })).body).toMatchObject({
      state: 'ended',
      endReason: 'reject',
    });

    // A single device answering busy: the caller gets busy.
    const id2 = randomUUID();
    a.send({ type: 'offer', callId: id2, to: carol.userId, sdp: SDP_OFFER, media: 'audio' });
    await c.next(ofCall(id2, 'offer'));
    c.send({ type: 'busy', callId: id2 });
    expect(await a.next(ofCall(id2, 'busy'))).toMatchObject({ from: { userId: carol.userId, deviceId: 1 } });
    expect((await api.get(`/calls/${id2}`, { token: carol.accessToken })).body.endReason).toBe('busy');
  });

  it('a callee without an online signaling socket is unavailable', async () => {
    const [alice, offline] = (await users(api, otp, 2)) as [TestUser, TestUser];
    const a = await open(alice);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: offline.userId, sdp: SDP_OFFER, media: 'audio' });
    expect(await a.next(ofCall(callId, 'unavailable'))).toEqual({ type: 'unavailable', callId });
    expect((await api.get(`/calls/${callId}`, { token: offline.accessToken })).body).toMatchObject({
      state: 'ended',
      endReason: 'unavailable',
    });
  });

  it('a third party calling someone in a call gets busy; the callee is not disturbed', async () => {
    const [alice, bob, carol] = (await users(api, otp, 3)) as [TestUser, TestUser, TestUser];
    const [a, b, c] = await Promise.all([open(alice), open(bob), open(carol)]);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    await b.next(ofCall(callId, 'offer'));
    // Busy already while ringing…
    const ringingBusy = randomUUID();
    c.send({ type: 'offer', callId: ringingBusy, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    expect(await c.next(ofCall(ringingBusy, 'busy'))).toEqual({ type: 'busy', callId: ringingBusy });
    b.send({ type: 'answer', callId, sdp: SDP_ANSWER });
    await a.next(ofCall(callId, 'answer'));
    // …and while connected, for either party.
    const third = randomUUID();
    c.send({ type: 'offer', callId: third, to: bob.userId, sdp: SDP_OFFER, media: 'video' });
    expect(await c.next(ofCall(third, 'busy'))).toEqual({ type: 'busy', callId: third });
    const fourth = randomUUID();
    c.send({ type: 'offer', callId: fourth, to: alice.userId, sdp: SDP_OFFER, media: 'video' });
    expect(await c.next(ofCall(fourth, 'busy'))).toEqual({ type: 'busy', callId: fourth });
    await nothingAbout(b, third);
    await nothingAbout(b, ringingBusy);
    await nothingAbout(a, fourth);
    expect((await api.get(`/calls/${third}`, { token: carol.accessToken })).body.endReason).toBe('busy');
    a.send({ type: 'hangup', callId });
    await b.next(ofCall(callId, 'hangup'));
  });

  it('glare: two users calling each other at once keep the call with the lower callId', async () => {
    for (const order of ['lower first', 'higher first', 'together'] as const) {
      const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
      const [a, b] = await Promise.all([open(alice), open(bob)]);
      const [low, high] = [randomUUID(), randomUUID()].sort() as [string, string];
      // Alice places the lower one, Bob the higher one.
      const aliceOffer = { type: 'offer', callId: low, to: bob.userId, sdp: SDP_OFFER, media: 'audio' };
      const bobOffer = { type: 'offer', callId: high, to: alice.userId, sdp: SDP_OFFER, media: 'audio' };
      if (order === 'lower first') {
        a.send(aliceOffer);
        await b.next(ofCall(low, 'offer'));
        b.send(bobOffer);
      } else if (order === 'higher first') {
        b.send(bobOffer);
        await a.next(ofCall(high, 'offer'));
        a.send(aliceOffer);
      } else {
        a.send(aliceOffer);
        b.send(bobOffer);
      }
      expect(await seen(a, ofCall(high, 'hangup'))).toMatchObject({ reason: 'glare' });
      expect(await seen(b, ofCall(high, 'hangup'))).toMatchObject({ reason: 'glare' });
      await seen(b, ofCall(low, 'offer'));
      expect((await api.get(`/calls/${high}`, { token: alice.accessToken })).body).toMatchObject({
        state: 'ended',
        endReason: 'glare',
      });
      expect((await api.get(`/calls/${low}`, { token: alice.accessToken })).body.state).toBe('ringing');
      b.send({ type: 'answer', callId: low, sdp: SDP_ANSWER });
      await a.next(ofCall(low, 'answer'));
      a.send({ type: 'hangup', callId: low });
      await b.next(ofCall(low, 'hangup'));
    }
  });

  it("a stranger's frames, unknown calls and bad frames get error frames and nothing is relayed", async () => {
    const [alice, bob, mallory] = (await users(api, otp, 3)) as [TestUser, TestUser, TestUser];
    const alice2 = await linkDevice(api, alice);
    const [a, a2, b, m] = await Promise.all([open(alice), open(alice2), open(bob), open(mallory)]);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    await b.next(ofCall(callId, 'offer'));
    for (const frame of [
      { type: 'answer', callId, sdp: 'hijack' },
      { type: 'ice', callId, candidate: 'inject' },
      { type: 'hangup', callId },
      { type: 'reject', callId },
      { type: 'ringing', callId },
    ]) {
      m.send(frame);
      expect(await m.next((f) => f.type === 'error' && f.callId === callId)).toMatchObject({ code: 'NOT_FOUND' });
    }
    // The caller's other device is not in the call either.
    a2.send({ type: 'hangup', callId });
    expect(await a2.next((f) => f.type === 'error' && f.callId === callId)).toMatchObject({ code: 'FORBIDDEN' });
    expect((await api.post('/calls/ice', { callId, candidates: ['x'] }, { token: mallory.accessToken })).status).toBe(
      404,
    );
    await nothingAbout(a, `${callId}-x`);
    expect(a.frames.filter((f) => f.callId === callId)).toEqual([]);
    expect(b.frames.filter((f) => f.callId === callId).map((f) => f.type)).toEqual(['offer']);
    expect((await api.get(`/calls/${callId}`, { token: alice.accessToken })).body.state).toBe('ringing');

    const unknown = randomUUID();
    m.send({ type: 'hangup', callId: unknown });
    expect(await m.next((f) => f.type === 'error' && f.callId === unknown)).toMatchObject({ code: 'NOT_FOUND' });
    m.ws.send('not json');
    expect(await m.next((f) => f.type === 'error')).toMatchObject({ code: 'VALIDATION_FAILED' });
    m.send({ type: 'dance', callId });
    expect(await m.next((f) => f.type === 'error' && f.callId === callId)).toMatchObject({ code: 'VALIDATION_FAILED' });
    const big = randomUUID();
    m.send({ type: 'offer', callId: big, to: bob.userId, sdp: 'x'.repeat(64 * 1024 + 1), media: 'audio' });
    expect(await m.next((f) => f.type === 'error' && f.callId === big)).toMatchObject({ code: 'VALIDATION_FAILED' });
    await nothingAbout(b, big);
    // Reusing someone's callId is a conflict, not a takeover.
    m.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    expect(await m.next((f) => f.type === 'error' && f.callId === callId)).toMatchObject({ code: 'CONFLICT' });
    // Calling yourself is refused.
    const self = randomUUID();
    m.send({ type: 'offer', callId: self, to: mallory.userId, sdp: SDP_OFFER, media: 'audio' });
    expect(await m.next((f) => f.type === 'error' && f.callId === self)).toMatchObject({ code: 'VALIDATION_FAILED' });
    a.send({ type: 'hangup', callId });
    await b.next(ofCall(callId, 'hangup'));
  });

  it('a party whose socket drops while ringing ends the call as disconnected', async () => {
    const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
    let [a, b] = await Promise.all([open(alice), open(bob)]);
    const first = randomUUID();
    a.send({ type: 'offer', callId: first, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    await b.next(ofCall(first, 'offer'));
    a.close();
    expect(await b.next(ofCall(first, 'hangup'))).toMatchObject({ reason: 'disconnected' });
    a = await open(alice);
    const second = randomUUID();
    a.send({ type: 'offer', callId: second, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    await b.next(ofCall(second, 'offer'));
    b.close();
    expect(await a.next(ofCall(second, 'hangup'))).toMatchObject({ reason: 'disconnected' });
    expect((await api.get(`/calls/${second}`, { token: bob.accessToken })).body.endReason).toBe('disconnected');
    b = await open(bob);
    b.close();
  });

  it('one signaling socket per device: a newer one closes the older with 4409', async () => {
    const [alice] = (await users(api, otp, 1)) as [TestUser];
    const first = await open(alice);
    const second = await signal(server.url, alice, 'query');
    sockets.push(second);
    expect((await first.closed).code).toBe(4409);
  });

  it('the same call over REST on one side and the socket on the other', async () => {
    const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    // Alice places the call over REST (callId chosen by the server), Bob answers on his socket.
    const offered = await api.post(
      '/calls/offer',
      { calleeId: bob.userId, sdp: SDP_OFFER, media: 'audio' },
      { token: alice.accessToken },
    );
    expect(offered.status).toBe(201);
    const callId = offered.body.callId as string;
    expect(await b.next(ofCall(callId, 'offer'))).toMatchObject({ sdp: SDP_OFFER, from: { userId: alice.userId } });
    b.send({ type: 'answer', callId, sdp: SDP_ANSWER });
    expect((await a.next(ofCall(callId, 'answer'))).sdp).toBe(SDP_ANSWER);
    const ice = await api.post('/calls/ice', { callId, candidates: ['c1', 'c2'] }, { token: alice.accessToken });
    expect(ice.status).toBe(204);
    expect((await b.next(ofCall(callId, 'ice'))).candidate).toBe('c1');
    expect((await b.next(ofCall(callId, 'ice'))).candidate).toBe('c2');
    expect((await api.post('/calls/hangup', { callId }, { token: alice.accessToken })).status).toBe(204);
    expect(await b.next(ofCall(callId, 'hangup'))).toMatchObject({ reason: 'hangup' });
    expect((await api.post('/calls/hangup', { callId }, { token: alice.accessToken })).status).toBe(409);

    // Bob places one on his socket, Alice answers and declines over REST.
    const id2 = randomUUID();
    b.send({ type: 'offer', callId: id2, to: alice.userId, sdp: SDP_OFFER, media: 'video' });
    await a.next(ofCall(id2, 'offer'));
    expect(
      (await api.post('/calls/answer', { callId: id2, sdp: SDP_ANSWER }, { token: alice.accessToken })).status,
    ).toBe(204);
    expect((await b.next(ofCall(id2, 'answer'))).from).toEqual({ userId: alice.userId, deviceId: 1 });
    expect(
      (await api.post('/calls/answer', { callId: id2, sdp: SDP_ANSWER }, { token: alice.accessToken })).status,
    ).toBe(409);
    b.send({ type: 'hangup', callId: id2 });
    expect(await a.next(ofCall(id2, 'hangup'))).toMatchObject({ reason: 'hangup' });

    const id3 = randomUUID();
    b.send({ type: 'offer', callId: id3, to: alice.userId, sdp: SDP_OFFER, media: 'audio' });
    await a.next(ofCall(id3, 'offer'));
    const rej = await api.post('/calls/hangup', { callId: id3, reason: 'reject' }, { token: alice.accessToken });
    expect(rej.status).toBe(204);
    expect(await b.next(ofCall(id3, 'reject'))).toMatchObject({ from: { userId: alice.userId } });

    // Bad REST input: 400, nothing changed.
    expect(
      (await api.post('/calls/offer', { calleeId: 'nope', sdp: 'x', media: 'audio' }, { token: alice.accessToken }))
        .status,
    ).toBe(400);
    expect(
      (await api.post('/calls/offer', { calleeId: bob.userId, sdp: 'x', media: 'smell' }, { token: alice.accessToken }))
        .status,
    ).toBe(400);
    expect(
      (
        await api.post(
          '/calls/offer',
          { calleeId: randomUUID(), sdp: 'x', media: 'audio' },
          { token: alice.accessToken },
        )
      ).status,
    ).toBe(404);
    expect(
      (
        await api.post(
          '/calls/offer',
          { calleeId: bob.userId, sdp: 'x', media: 'audio', extra: 1 },
          { token: alice.accessToken },
        )
      ).status,
    ).toBe(400);
    expect((await api.get('/calls/offer')).status).toBe(401);
  });

  it('history pages newest first with a cursor', async () => {
    const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await api.post(
        '/calls/offer',
        { calleeId: bob.userId, sdp: SDP_OFFER, media: 'audio' },
        { token: alice.accessToken },
      );
      ids.push(r.body.callId);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { calls: Array<{ callId: string; endReason: string }>; nextCursor: string | null } } =
        await api.get(`/calls?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: bob.accessToken });
      expect(page.body.calls.length).toBeLessThanOrEqual(2);
      for (const c of page.body.calls) {
        expect(c.endReason).toBe('unavailable');
        seen.push(c.callId);
      }
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await api.get('/calls?cursor=garbage', { token: bob.accessToken })).status).toBe(400);
  });

  it('GET /calls/turn: coturn use-auth-secret credentials', async () => {
    const [alice] = (await users(api, otp, 1)) as [TestUser];
    const r = await api.get('/calls/turn', { token: alice.accessToken });
    expect(r.status).toBe(200);
    expect(r.body.urls).toEqual(['turn:127.0.0.1:3478?transport=udp', 'stun:127.0.0.1:3478']);
    expect(r.body.ttl).toBe(600);
    const [expiry, userId] = (r.body.username as string).split(':');
    expect(userId).toBe(alice.userId);
    const now = Math.floor(Date.now() / 1000);
    expect(Number(expiry)).toBeGreaterThanOrEqual(now + 590);
    expect(Number(expiry)).toBeLessThanOrEqual(now + 610);
    expect(r.body.credential).toBe(createHmac('sha1', TURN_SECRET).update(r.body.username).digest('base64'));
    expect((await api.get('/calls/turn')).status).toBe(401);
  });
});

describe('calls: timeouts, grace, limits and an unconfigured TURN', () => {
  let server: RunningServer;
  let api: Client;
  let otp: OtpWebhook;
  const sockets: TestSocket[] = [];
  const open = async (u: TestUser) => {
    const s = await signal(server.url, u);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await startTestServer({
      OTP_WEBHOOK_URL: otp.url,
      CALL_RING_TIMEOUT_S: '2',
      CALL_SWEEP_INTERVAL_S: '1',
      CALL_RECONNECT_GRACE_S: '3',
      RATE_LIMIT_CALL_OFFER: '3/600',
    });
    api = client(server.url);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await server?.close();
    await otp?.stop();
  });

  it('an unanswered offer ends as timeout for every party', async () => {
    const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
    const bob2 = await linkDevice(api, bob);
    const [a, b1, b2] = await Promise.all([open(alice), open(bob), open(bob2)]);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    await b1.next(ofCall(callId, 'offer'));
    await b2.next(ofCall(callId, 'offer'));
    for (const s of [a, b1, b2]) {
      expect(await s.next(ofCall(callId, 'hangup'), 20_000)).toEqual({ type: 'hangup', callId, reason: 'timeout' });
    }
    expect((await api.get(`/calls/${callId}`, { token: alice.accessToken })).body).toMatchObject({
      state: 'ended',
      endReason: 'timeout',
    });
    b1.send({ type: 'answer', callId, sdp: SDP_ANSWER });
    expect(await b1.next((f) => f.type === 'error' && f.callId === callId)).toMatchObject({ code: 'CONFLICT' });
  });

  it('the SQL sweep ends overdue ringing calls without the timer of the offering node', async () => {
    const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
    const [a, b] = await Promise.all([open(alice), open(bob)]);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    await b.next(ofCall(callId, 'offer'));
    // As if the offering node had died: its timer is gone, the row stays ringing.
    const timers = (server.services.calls as unknown as { ringTimers: Map<string, NodeJS.Timeout> }).ringTimers;
    for (const t of timers.values()) clearTimeout(t);
    expect(await b.next(ofCall(callId, 'hangup'), 20_000)).toMatchObject({ reason: 'timeout' });
    expect(await a.next(ofCall(callId, 'hangup'), 20_000)).toMatchObject({ reason: 'timeout' });
  });

  it('a connected call survives a signaling reconnect within the grace period, and ends as disconnected after it', async () => {
    const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
    const a = await open(alice);
    let b = await open(bob);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    await b.next(ofCall(callId, 'offer'));
    b.send({ type: 'answer', callId, sdp: SDP_ANSWER });
    await a.next(ofCall(callId, 'answer'));
    b.close();
    await b.closed;
    b = await open(bob);
    await new Promise((r) => setTimeout(r, 5_000));
    expect((await api.get(`/calls/${callId}`, { token: alice.accessToken })).body.state).toBe('connected');
    b.send({ type: 'ice', callId, candidate: 'after reconnect' });
    expect((await a.next(ofCall(callId, 'ice'))).candidate).toBe('after reconnect');
    b.close();
    expect(await a.next(ofCall(callId, 'hangup'), 20_000)).toMatchObject({ reason: 'disconnected' });
    expect((await api.get(`/calls/${callId}`, { token: bob.accessToken })).body.endReason).toBe('disconnected');
  });

  it('offers are rate limited per user; TURN without a secret is 503', async () => {
    const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await api.post(
        '/calls/offer',
        { calleeId: bob.userId, sdp: SDP_OFFER, media: 'audio' },
        { token: alice.accessToken },
      );
      statuses.push(r.status);
      if (r.status === 429) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
    const a = await open(alice);
    const callId = randomUUID();
    a.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    expect(await a.next((f) => f.type === 'error' && f.callId === callId)).toMatchObject({ code: 'RATE_LIMITED' });
    const turn = await api.get('/calls/turn', { token: alice.accessToken });
    expect(turn.status).toBe(503);
    expect(turn.body.error).toMatchObject({ code: 'UNAVAILABLE', message: 'TURN is not configured' });
  });

  it('metrics: active calls, outcomes by reason, ring-to-answer', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^calls_active \d+/m);
    expect(text).toMatch(/^call_outcomes_total\{reason="timeout"\} [1-9]/m);
    expect(text).toMatch(/^call_ring_to_answer_seconds_count [1-9]/m);
  });

  it('retention purges old call records in batches', async () => {
    const [alice, bob] = (await users(api, otp, 2)) as [TestUser, TestUser];
    const r = await api.post(
      '/calls/offer',
      { calleeId: bob.userId, sdp: SDP_OFFER, media: 'audio' },
      { token: alice.accessToken },
    );
    const callId = r.body.callId as string;
    const fresh = await api.post(
      '/calls/offer',
      { calleeId: bob.userId, sdp: SDP_OFFER, media: 'audio' },
      { token: bob.accessToken },
    );
    expect(fresh.status).toBe(400); // calling yourself
    // Only this record is made old (other test files share the database).
    await server.infra.db.prisma.$executeRaw`
      UPDATE calls SET started_at = now() - interval '91 days' WHERE id = ${callId}::uuid`;
    const n = await server.services.calls.purgeExpired(new Date(), 1);
    expect(n).toBeGreaterThanOrEqual(1);
    expect((await api.get(`/calls/${callId}`, { token: alice.accessToken })).status).toBe(404);
  });
});
