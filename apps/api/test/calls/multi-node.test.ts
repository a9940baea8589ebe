import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createUser, type TestUser } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { testEnv } from '../helpers/server.js';
import type { TestSocket } from '../helpers/ws-client.js';
import { ofCall, SDP_ANSWER, SDP_OFFER, seen, signal } from './helpers.js';

describe('calls across two API processes on one PostgreSQL + Redis', () => {
  let otp: OtpWebhook;
  const procs: ServerProcess[] = [];
  const sockets: TestSocket[] = [];
  let a: ServerProcess;
  let b: ServerProcess;

  const start = async () => {
    const p = await spawnServer(
      await testEnv({
        OTP_WEBHOOK_URL: otp.url,
        LOG_LEVEL: 'info',
        CALL_RING_TIMEOUT_S: '4',
        CALL_SWEEP_INTERVAL_S: '1',
      }),
      90_000,
    );
    procs.push(p);
    return p;
  };
  const open = async (url: string, u: TestUser) => {
    const s = await signal(url, u);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    [a, b] = await Promise.all([start(), start()]);
  }, 180_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const p of procs) p.kill('SIGKILL');
    await otp?.stop();
  });

  it('caller on node A, callee on node B: offer, answer, ice, hangup', async () => {
    const alice = await createUser(client(a.url), otp);
    const bob = await createUser(client(b.url), otp);
    const [sa, sb] = await Promise.all([open(a.url, alice), open(b.url, bob)]);
    const callId = randomUUID();
    sa.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    expect(await sb.next(ofCall(callId, 'offer'))).toMatchObject({ from: { userId: alice.userId, deviceId: 1 } });
    sb.send({ type: 'answer', callId, sdp: SDP_ANSWER });
    expect((await sa.next(ofCall(callId, 'answer'))).sdp).toBe(SDP_ANSWER);
    sa.send({ type: 'ice', callId, candidate: 'a→b' });
    sb.send({ type: 'ice', callId, candidate: 'b→a' });
    expect((await sb.next(ofCall(callId, 'ice'))).candidate).toBe('a→b');
    expect((await sa.next(ofCall(callId, 'ice'))).candidate).toBe('b→a');
    // The REST equivalent on the other node feeds the same engine.
    expect((await client(b.url).post('/calls/hangup', { callId }, { token: bob.accessToken })).status).toBe(204);
    expect(await sa.next(ofCall(callId, 'hangup'))).toMatchObject({ reason: 'hangup' });
    expect((await client(a.url).get(`/calls/${callId}`, { token: alice.accessToken })).body).toMatchObject({
      state: 'ended',
      endReason: 'hangup',
    });
  });

  it('glare across nodes: the lower callId survives', async () => {
    const alice = await createUser(client(a.url), otp);
    const bob = await createUser(client(b.url), otp);
    const [sa, sb] = await Promise.all([open(a.url, alice), open(b.url, bob)]);
    const [low, high] = [randomUUID(), randomUUID()].sort() as [string, string];
    sb.send({ type: 'offer', callId: high, to: alice.userId, sdp: SDP_OFFER, media: 'audio' });
    sa.send({ type: 'offer', callId: low, to: bob.userId, sdp: SDP_OFFER, media: 'audio' });
    expect(await seen(sa, ofCall(high, 'hangup'))).toMatchObject({ reason: 'glare' });
    expect(await seen(sb, ofCall(high, 'hangup'))).toMatchObject({ reason: 'glare' });
    await seen(sb, ofCall(low, 'offer'));
    sb.send({ type: 'hangup', callId: low });
    await seen(sa, ofCall(low, 'hangup'));
  });

  it('the node that took the offer is killed: the other node still ends the call as timeout', async () => {
    const spare = await start();
    const alice = await createUser(client(spare.url), otp);
    const bob = await createUser(client(b.url), otp);
    const [sa, sb] = await Promise.all([open(spare.url, alice), open(b.url, bob)]);
    const callId = randomUUID();
    sa.send({ type: 'offer', callId, to: bob.userId, sdp: SDP_OFFER, media: 'video' });
    await sb.next(ofCall(callId, 'offer'));
    spare.kill('SIGKILL');
    await spare.exited;
    expect(await sb.next(ofCall(callId, 'hangup'), 30_000)).toEqual({ type: 'hangup', callId, reason: 'timeout' });
    expect((await client(b.url).get(`/calls/${callId}`, { token: bob.accessToken })).body.endReason).toBe('timeout');
  }, 120_000);
});
