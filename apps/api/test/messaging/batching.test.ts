import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/services/group-commit.js';
import { client, createUser, linkDevice, type TestUser } from '../helpers/api.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { testEnv } from '../helpers/server.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { type Frame, TestSocket } from '../helpers/ws-client.js';

const blob = (s: string) => Buffer.from(s).toString('base64');

/** A metric's value from the Prometheus text, summed over the series whose labels contain `labels`. */
async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.trim()) continue;
    const at = line.lastIndexOf(' ');
    const head = line.slice(0, at);
    if (head.split('{')[0] !== name || !head.includes(labels)) continue;
    sum += Number(line.slice(at + 1));
  }
  return sum;
}

const sendFrame = (requestId: string, recipientId: string, regId: number, text: string, cmid?: string) => ({
  type: 'send',
  requestId,
  recipientId,
  ...(cmid ? { clientMessageId: cmid } : {}),
  messages: [{ deviceId: 1, registrationId: regId, type: 'message', content: blob(text) }],
});

describe('group commit (unit)', () => {
  it('items of one turn share a batch; an idle batcher writes at once; a failing batch retries one by one', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, string>(
      async (items) => {
        batches.push(items);
        if (items.includes(13)) throw new Error('bad item');
        return items.map((i) => `ok ${i}`);
      },
      { maxBatch: 100, maxInFlight: 1 },
    );
    const t0 = performance.now();
    expect(await gc.submit(1)).toBe('ok 1');
    // No fixed delay: a lone item is written on the next turn of the event loop.
    expect(performance.now() - t0).toBeLessThan(200);

    batches.length = 0;
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => gc.submit(i + 5)));
    // 20 submitted in one turn: one statement for all, then the one-by-one retry of the failed batch.
    expect(batches[0]).toHaveLength(20);
    expect(batches.slice(1).every((b) => b.length === 1)).toBe(true);
    results.forEach((r, i) => {
      if (i + 5 === 13) expect(r.status).toBe('rejected');
      else expect(r).toEqual({ status: 'fulfilled', value: `ok ${i + 5}` });
    });
  });

  it('bounds batches by count and keeps order within and across batches', async () => {
    const seen: number[] = [];
    const sizes: number[] = [];
    const gc = new GroupCommit<number, number>(
      async (items) => {
        sizes.push(items.length);
        seen.push(...items);
        await new Promise((r) => setTimeout(r, 5));
        return items;
      },
      { maxBatch: 7, maxInFlight: 1 },
    );
    await Promise.all(Array.from({ length: 50 }, (_, i) => gc.submit(i)));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('batched sends, pushes and acks (PostgreSQL + Redis)', () => {
  let { server, otp, api, db } = {} as ServerContext;
  useServer(
    { RATE_LIMIT_WS_FRAMES: '100000/1', WS_MAX_INFLIGHT_POINTS: '1000' },
    (c) => ({ server, otp, api, db } = c),
  );

  async function registered(devices = 1): Promise<{ sessions: TestUser[]; regIds: number[] }> {
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
      expect(r.status).toBe(200);
      regIds.push(d.registrationId);
    }
    return { sessions, regIds };
  }

  it('one burst: repeated clientMessageIds store once and answer the first reply; a stale send fails alone', async () => {
    const alice = await registered();
    const bob = await registered();
    const bobId = bob.sessions[0]?.userId as string;
    const ws = await TestSocket.connect(server.url, alice.sessions[0]?.accessToken as string);
    await ws.next((f) => f.type === 'queue.empty');
    const batchesBefore = await metric(server.url, 'message_send_batch_size_count');
    const cmid = randomUUID();
    // 40 frames in one write: 10 carry the same clientMessageId, one has a stale registration id.
    const frames = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify(
        i === 20
          ? sendFrame(`r${i}`, bobId, (bob.regIds[0] as number) + 1, 'stale')
          : sendFrame(`r${i}`, bobId, bob.regIds[0] as number, `m${i}`, i % 4 === 0 ? cmid : undefined),
      ),
    );
    for (const f of frames) ws.ws.send(f);
    const replies = new Map<string, Frame>();
    while (replies.size < 40) {
      const f = await ws.next((x) => x.type === 'send.result' || x.type === 'error');
      replies.set(f.requestId, f);
    }
    expect(replies.get('r20')).toMatchObject({ type: 'error', code: 'STALE_DEVICES' });
    const repeats = [...replies].filter(([rid]) => rid !== 'r20' && Number(rid.slice(1)) % 4 === 0).map(([, f]) => f);
    expect(repeats).toHaveLength(9);
    expect(repeats.every((f) => f.type === 'send.result')).toBe(true);
    expect(new Set(repeats.map((f) => f.messages[0].messageId)).size).toBe(1);
    const stored = await db.query('SELECT client_message_id FROM messages WHERE recipient_id = $1', [bobId]);
    // 39 accepted sends, 9 of them one idempotent send: 31 envelopes.
    expect(stored.rows).toHaveLength(31);
    expect(stored.rows.filter((r) => r.client_message_id === cmid)).toHaveLength(1);
    // Far fewer statements than sends: the burst was group-committed.
    const batches = (await metric(server.url, 'message_send_batch_size_count')) - batchesBefore;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(20);
    ws.close();
  });

  it('concurrent senders: each sender device’s messages arrive in the order they were accepted', async () => {
    const bob = await registered();
    const bobId = bob.sessions[0]?.userId as string;
    const senders = await Promise.all(Array.from({ length: 6 }, () => registered()));
    const bobWs = await TestSocket.connect(server.url, bob.sessions[0]?.accessToken as string);
    await bobWs.next((f) => f.type === 'queue.empty');
    const sockets = await Promise.all(
      senders.map((s) => TestSocket.connect(server.url, s.sessions[0]?.accessToken as string)),
    );
    await Promise.all(sockets.map((s) => s.next((f) => f.type === 'queue.empty')));
    const PER = 60;
    await Promise.all(
      sockets.map(async (s, k) => {
        for (let i = 0; i < PER; i++) {
          s.send(sendFrame(`${k}-${i}`, bobId, bob.regIds[0] as number, `${k}:${i}`));
          const r = await s.next((f) => f.requestId === `${k}-${i}`);
          expect(r.type).toBe('send.result');
        }
      }),
    );
    const got = await bobWs.collect(() => bobWs.frames.filter((f) => f.type === 'message').length >= 6 * PER, 30_000);
    const msgs = [...bobWs.frames.filter((f) => f.type === 'message')];
    expect(got.length).toBeGreaterThan(0);
    expect(msgs).toHaveLength(6 * PER);
    senders.forEach((s, k) => {
      const mine = msgs
        .filter((f) => f.envelope.senderId === s.sessions[0]?.userId)
        .map((f) => Buffer.from(f.envelope.content, 'base64').toString());
      expect(mine).toEqual(Array.from({ length: PER }, (_, i) => `${k}:${i}`));
    });
    bobWs.close();
    for (const s of sockets) s.close();
  });

  it('an ack batch spanning devices: every envelope becomes delivered and the sender hears each once', async () => {
    const alice = await registered();
    const bob = await registered(2);
    const bobId = bob.sessions[0]?.userId as string;
    const aliceWs = await TestSocket.connect(server.url, alice.sessions[0]?.accessToken as string);
    const bobWs = await Promise.all(bob.sessions.map((s) => TestSocket.connect(server.url, s.accessToken)));
    await Promise.all([aliceWs, ...bobWs].map((s) => s.next((f) => f.type === 'queue.empty')));
    const N = 25;
    for (let i = 0; i < N; i++) {
      const r = await api.post(
        '/messages/send',
        {
          recipientId: bobId,
          messages: bob.sessions.map((s, d) => ({
            deviceId: s.deviceId,
            registrationId: bob.regIds[d],
            type: 'message',
            content: blob(`x${i}`),
          })),
        },
        { token: alice.sessions[0]?.accessToken },
      );
      expect(r.status).toBe(200);
    }
    const ids: string[][] = [];
    for (const s of bobWs) {
      const frames = await s.collect(() => s.frames.filter((f) => f.type === 'message').length >= N);
      expect(frames.length).toBeGreaterThan(0);
      ids.push(s.frames.filter((f) => f.type === 'message').map((f) => f.envelope.id));
    }
    // Both devices ack everything in the same turn: one statement may carry both.
    for (const [d, s] of bobWs.entries()) s.send({ type: 'ack', ids: ids[d] });
    const statuses = await aliceWs.collect(
      () => aliceWs.frames.filter((f) => f.type === 'message.status').length >= 2 * N,
    );
    expect(statuses.length).toBeGreaterThan(0);
    const heard = aliceWs.frames.filter((f) => f.type === 'message.status');
    expect(heard.every((f) => f.status === 'delivered')).toBe(true);
    expect(new Set(heard.map((f) => f.id))).toEqual(new Set(ids.flat()));
    expect(heard).toHaveLength(2 * N);
    const left = await db.query("SELECT count(*)::int AS n FROM messages WHERE recipient_id = $1 AND status = 'sent'", [
      bobId,
    ]);
    expect(left.rows[0].n).toBe(0);
    for (const s of [aliceWs, ...bobWs]) s.close();
  });

  it('a stream that reconnects mid-burst receives everything, each envelope once per connection', async () => {
    const alice = await registered();
    const bob = await registered();
    const bobId = bob.sessions[0]?.userId as string;
    const bobToken = bob.sessions[0]?.accessToken as string;
    const aliceWs = await TestSocket.connect(server.url, alice.sessions[0]?.accessToken as string);
    await aliceWs.next((f) => f.type === 'queue.empty');
    const first = await TestSocket.connect(server.url, bobToken);
    await first.next((f) => f.type === 'queue.empty');
    const acked = new Set<string>();
    first.ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.type === 'message' && acked.size < 100) {
        acked.add(f.envelope.id);
        first.send({ type: 'ack', ids: [f.envelope.id] });
      }
    });
    const TOTAL = 400;
    const burst = (async () => {
      for (let i = 0; i < TOTAL; i += 20) {
        for (let j = i; j < i + 20; j++) aliceWs.send(sendFrame(`b${j}`, bobId, bob.regIds[0] as number, `b${j}`));
        await aliceWs.next((f) => f.requestId === `b${i + 19}`);
      }
    })();
    // Mid-burst: the first connection goes away after acking 100, a new one takes over.
    while (acked.size < 100) await new Promise((r) => setTimeout(r, 10));
    const before = first.frames.filter((f) => f.type === 'message').map((f) => f.envelope.id);
    // Acks are committed before the reply-less frame is forgotten; wait for them so the assertion
    // below can demand that nothing acknowledged comes again.
    for (let n = 0; n < 200; n++) {
      const r = await db.query(
        "SELECT count(*)::int AS n FROM messages WHERE recipient_id = $1 AND status = 'delivered'",
        [bobId],
      );
      if (r.rows[0].n >= 100) break;
      await new Promise((res) => setTimeout(res, 25));
    }
    first.close();
    await first.closed;
    const second = await TestSocket.connect(server.url, bobToken);
    await burst;
    const replies = aliceWs.frames.filter((f) => f.type === 'send.result');
    expect(replies).toHaveLength(TOTAL);
    await second.collect(() => {
      const seen = new Set([...acked, ...second.frames.filter((f) => f.type === 'message').map((f) => f.envelope.id)]);
      return seen.size >= TOTAL;
    });
    const after = second.frames.filter((f) => f.type === 'message').map((f) => f.envelope.id);
    // Once per connection; nothing acknowledged comes again; together, every accepted envelope.
    expect(new Set(after).size).toBe(after.length);
    expect(after.filter((id) => acked.has(id))).toEqual([]);
    expect(new Set([...acked, ...after]).size).toBe(TOTAL);
    expect(new Set(before).size).toBe(before.length);
    second.close();
    aliceWs.close();
  });
  it('a stalled reader holds at most a bounded number of pushes; the rest is read again, in order, when it resumes', async () => {
    const alice = await registered();
    const bob = await registered();
    const bobId = bob.sessions[0]?.userId as string;
    const bobWs = await TestSocket.connect(server.url, bob.sessions[0]?.accessToken as string);
    await bobWs.next((f) => f.type === 'queue.empty');
    const aliceWs = await TestSocket.connect(server.url, alice.sessions[0]?.accessToken as string);
    await aliceWs.next((f) => f.type === 'queue.empty');
    const readsBefore = await metric(server.url, 'message_stream_queue_reads_total', 'reason="catch-up"');
    // Bob stops reading: the server's socket buffer fills, then the stream stops being pulled.
    (bobWs.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const TOTAL = 2_500;
    const text = (i: number) => `${String(i).padStart(5, '0')}${'x'.repeat(6_000)}`;
    for (let i = 0; i < TOTAL; i += 50) {
      for (let j = i; j < i + 50; j++) aliceWs.send(sendFrame(`s${j}`, bobId, bob.regIds[0] as number, text(j)));
      await aliceWs.next((f) => f.requestId === `s${i + 49}`, 30_000);
    }
    expect(aliceWs.frames.filter((f) => f.type === 'send.result')).toHaveLength(TOTAL);
    (bobWs.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await bobWs.collect(() => bobWs.frames.filter((f) => f.type === 'message').length >= TOTAL, 60_000);
    const got = bobWs.frames
      .filter((f) => f.type === 'message')
      .map((f) => Number(Buffer.from(f.envelope.content, 'base64').toString().slice(0, 5)));
    // All of them, once each; each group of 50 was accepted before the next was sent, so groups
    // arrive in order (within a group the 50 were in flight together: no order is promised).
    expect([...got].sort((x, y) => x - y)).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    const groups = got.map((n) => Math.floor(n / 50));
    expect(groups).toEqual([...groups].sort((x, y) => x - y));
    // More than the stream may hold arrived while it was stalled: it fell back to reading the queue.
    expect(await metric(server.url, 'message_stream_queue_reads_total', 'reason="catch-up"')).toBeGreaterThan(
      readsBefore,
    );
    bobWs.close();
    aliceWs.close();
  }, 120_000);
});

describe('push delivery across API processes', () => {
  let otp: OtpWebhook;
  const procs: ServerProcess[] = [];
  beforeAll(async () => {
    otp = await new OtpWebhook().start();
  });
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await otp.stop();
  });

  it('envelopes committed on node A reach a stream on node B inside the broker message, with no queue read', async () => {
    const [a, b] = (await Promise.all(
      [0, 1].map(async () => {
        const p = await spawnServer(
          await testEnv({
            OTP_WEBHOOK_URL: otp.url,
            LOG_LEVEL: 'info',
            RATE_LIMIT_WS_FRAMES: '100000/1',
            WS_MAX_INFLIGHT_POINTS: '1000',
            // Long enough that only the broadcast can explain a prompt refusal (test below).
            AUTH_CACHE_MS: '60000',
          }),
        );
        procs.push(p);
        return p;
      }),
    )) as [ServerProcess, ServerProcess];
    const withKeys = async (url: string) => {
      const user = await createUser(client(url), otp);
      const d = await SignalDevice.create({ userId: user.userId, deviceId: 1 });
      await client(url).post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
        token: user.accessToken,
      });
      return { user, registrationId: d.registrationId };
    };
    const alice = await withKeys(a.url);
    const bob = await withKeys(b.url);
    const bobWs = await TestSocket.connect(b.url, bob.user.accessToken);
    await bobWs.next((f) => f.type === 'queue.empty');
    const readsBefore = await metric(b.url, 'message_stream_queue_reads_total', 'reason="catch-up"');
    const aliceWs = await TestSocket.connect(a.url, alice.user.accessToken);
    await aliceWs.next((f) => f.type === 'queue.empty');
    const N = 200;
    for (let i = 0; i < N; i++) aliceWs.send(sendFrame(`p${i}`, bob.user.userId, bob.registrationId, `p${i}`));
    await bobWs.collect(() => bobWs.frames.filter((f) => f.type === 'message').length >= N, 30_000);
    const got = bobWs.frames
      .filter((f) => f.type === 'message')
      .map((f) => Buffer.from(f.envelope.content, 'base64').toString());
    expect(new Set(got)).toEqual(new Set(Array.from({ length: N }, (_, i) => `p${i}`)));
    expect(got).toHaveLength(N);
    // Live delivery read nothing from the database on node B.
    expect(await metric(b.url, 'message_stream_queue_reads_total', 'reason="catch-up"')).toBe(readsBefore);
    bobWs.close();
    aliceWs.close();
  }, 120_000);

  it('auth states are cached per node, yet a logout on node A is refused on node B at once', async () => {
    const [a, b] = procs as [ServerProcess, ServerProcess];
    const user = await createUser(client(a.url), otp);
    // Warm node B's cache for this device, then end the session on node A.
    expect((await client(b.url).get('/me', { token: user.accessToken })).status).toBe(200);
    expect((await client(a.url).post('/auth/logout', {}, { token: user.accessToken })).status).toBe(204);
    let status = 0;
    for (let i = 0; i < 50; i++) {
      status = (await client(b.url).get('/me', { token: user.accessToken })).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // Only the broadcast can explain this: node B would trust its cache for 60 s.
    expect(status).toBe(401);
  });
});
