import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { MessageService } from '@snaptalker/proto';
import { SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUser, linkDevice, type TestUser } from '../helpers/api.js';
import { createAttachment, uploadAttachment } from '../helpers/attachments.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { failure, grpcClient } from '../helpers/grpc-client.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

// The authorization matrix over the REST surface, derived from the server's own OpenAPI document:
// every operation is either public (an explicit allow-list), acts on another user's resource by id
// (user B on user A's: refused as API.md says, and nothing changes), is shared by design (the key
// directory, attachments by id), or acts only on the caller (B's view must not show A's data). A
// route added without a row here fails the coverage test. Every authenticated route answers 401
// without a token or with a bad one.

const SECRET = 'test-secret-test-secret-test-secret-0123';

/** Operations that need no bearer token (the attachment blob routes authorise by signed URL). */
const PUBLIC = new Set([
  'GET /health',
  'GET /ready',
  'GET /metrics',
  'POST /api/v1/auth/register',
  'POST /api/v1/auth/verify',
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/refresh',
  'PUT /api/v1/attachments/{id}/blob',
  'GET /api/v1/attachments/{id}/blob',
]);

/** Cross-user by design (API.md): any authenticated user may read these by id. */
const SHARED = new Set(['GET /api/v1/keys/bundle/{userId}', 'GET /api/v1/attachments/{id}']);

/** Routes that take no one else's resource: they act on the caller's own device or account. */
const OWN = new Set([
  'GET /api/v1/messages/stream',
  'GET /api/v1/calls/signal',
  'POST /api/v1/auth/logout',
  'GET /api/v1/me',
  'POST /api/v1/keys/upload',
  'POST /api/v1/keys/signed-prekey',
  'GET /api/v1/keys/count',
  'POST /api/v1/messages/send',
  'GET /api/v1/messages/queue',
  'POST /api/v1/attachments',
  'POST /api/v1/calls/offer',
  'GET /api/v1/calls/turn',
  'GET /api/v1/calls',
]);

type OpenApi = { paths: Record<string, Record<string, { security?: unknown[] }>> };

describe('authorization matrix: user B on user A’s resources, over every route of the OpenAPI document', () => {
  let { server, otp, api, db } = {} as ServerContext;
  useServer(
    { JWT_SECRET: SECRET, TURN_SECRET: 'authz-turn', TURN_URLS: 'turn:127.0.0.1:3478' },
    (c) => ({ server, otp, api, db } = c),
  );

  let alice: TestUser;
  let alice2: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let mallory: TestUser;
  let doc: OpenApi;
  let ops: Array<{ key: string; method: string; path: string; authed: boolean }>;
  /** A's resources. */
  const a = { toBob: '', fromBob: [] as string[], pending: '', complete: '', callId: '', preKeyId: 900_001 };
  let carolCalls: TestSocket;

  beforeAll(async () => {
    [alice, bob, carol, mallory] = await Promise.all([
      createUser(api, otp),
      createUser(api, otp),
      createUser(api, otp),
      createUser(api, otp),
    ]);
    alice2 = await linkDevice(api, alice);
    const aliceD1 = await SignalDevice.create({ userId: alice.userId, deviceId: 1 });
    const aliceD2 = await SignalDevice.create({ userId: alice.userId, deviceId: 2, identity: aliceD1.identity });
    const bobD = await SignalDevice.create({ userId: bob.userId, deviceId: 1 });
    const malloryD = await SignalDevice.create({ userId: mallory.userId, deviceId: 1 });
    const upload = async (d: SignalDevice, s: TestUser, startId?: number) => {
      const r = await api.post('/keys/upload', await d.generateKeys({ preKeys: 5, kyberPreKeys: 1, startId }), {
        token: s.accessToken,
      });
      expect(r.status).toBe(200);
    };
    await upload(aliceD1, alice, 900_000);
    await upload(aliceD2, alice2, 910_000);
    await upload(bobD, bob);
    await upload(malloryD, mallory);

    const toBob = await api.post(
      '/messages/send',
      {
        recipientId: bob.userId,
        messages: [{ deviceId: 1, registrationId: bobD.registrationId, type: 'message', content: 'AAEC' }],
      },
      { token: alice.accessToken },
    );
    expect(toBob.status).toBe(200);
    a.toBob = toBob.body.messages[0].messageId;
    const fromBob = await api.post(
      '/messages/send',
      {
        recipientId: alice.userId,
        messages: [aliceD1, aliceD2].map((d) => ({
          deviceId: d.deviceId,
          registrationId: d.registrationId,
          type: 'message',
          content: 'AwQF',
        })),
      },
      { token: bob.accessToken },
    );
    expect(fromBob.status).toBe(200);
    a.fromBob = fromBob.body.messages.map((m: { messageId: string }) => m.messageId);

    a.pending = (await createAttachment(api, alice.accessToken, 16)).attachmentId;
    const done = await uploadAttachment(api, server.url, alice.accessToken, new Uint8Array(32).fill(7));
    expect(done.complete.status).toBe(200);
    a.complete = done.created.attachmentId;

    // A ringing call from Alice to Carol (Carol is online on signaling, so it rings).
    carolCalls = await TestSocket.connect(server.url, carol.accessToken, 'header', '/api/v1/calls/signal');
    carolCalls.send({ type: 'ping' });
    await carolCalls.next((f) => f.type === 'pong');
    const offer = await api.post(
      '/calls/offer',
      { calleeId: carol.userId, sdp: 'v=0', media: 'audio' },
      { token: alice.accessToken },
    );
    expect(offer.status).toBe(201);
    a.callId = offer.body.callId;
    await carolCalls.next((f) => f.type === 'offer');

    doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as OpenApi;
    ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([m]) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
        .map(([m, op]) => ({
          key: `${m.toUpperCase()} ${path}`,
          method: m.toUpperCase(),
          path,
          authed: Array.isArray(op.security) && op.security.length > 0,
        })),
    );
  });

  const status = async (id: string) =>
    (await db.query('SELECT status::text AS s FROM messages WHERE id = $1', [id])).rows[0]?.s as string;
  const aliceView = async () => ({
    me: (await api.get('/me', { token: alice.accessToken })).body.devices.map((d: { deviceId: number }) => d.deviceId),
    counts: (await api.get('/keys/count', { token: alice.accessToken })).body,
    call: (await api.get(`/calls/${a.callId}`, { token: alice.accessToken })).body.state,
    attachment: (await api.get(`/attachments/${a.complete}`, { token: alice.accessToken })).status,
    pending: (await db.query('SELECT state::text AS s FROM attachments WHERE id = $1', [a.pending])).rows[0]?.s,
    statuses: [await status(a.toBob), ...(await Promise.all(a.fromBob.map(status)))],
  });
  const refused = (r: { status: number; body: any }, codes = [403, 404]) => {
    expect(codes, JSON.stringify(r.body)).toContain(r.status);
    expect(['FORBIDDEN', 'NOT_FOUND']).toContain(r.body.error.code);
  };

  /** B (Mallory) on A's resources, one entry per operation that takes another user's resource id. */
  const crossUser: Record<string, () => Promise<void>> = {
    'DELETE /api/v1/devices/{deviceId}': async () => {
      // Device ids are per account: B's "device 2" is not A's, and B has none.
      refused(await api.del('/devices/2', { token: mallory.accessToken }));
    },
    'DELETE /api/v1/keys/prekey/{id}': async () => {
      refused(await api.del(`/keys/prekey/${a.preKeyId}`, { token: mallory.accessToken }), [404]);
    },
    'PUT /api/v1/messages/{id}/status': async () => {
      for (const id of [a.toBob, ...a.fromBob])
        refused(await api.put(`/messages/${id}/status`, { status: 'read' }, { token: mallory.accessToken }));
    },
    'GET /api/v1/messages/{chatId}': async () => {
      for (const chat of [alice.userId, bob.userId]) {
        const r = await api.get(`/messages/${chat}`, { token: mallory.accessToken });
        expect(r.status).toBe(200);
        expect(r.body.messages).toEqual([]);
      }
    },
    'POST /api/v1/messages/ack': async () => {
      // Ids not addressed to the caller are ignored (acks are retry-safe): 204, nothing changes.
      const r = await api.post('/messages/ack', { ids: [a.toBob, ...a.fromBob] }, { token: mallory.accessToken });
      expect(r.status).toBe(204);
    },
    'POST /api/v1/attachments/{id}/complete': async () => {
      refused(await api.post(`/attachments/${a.pending}/complete`, undefined, { token: mallory.accessToken }));
    },
    'DELETE /api/v1/attachments/{id}': async () => {
      for (const id of [a.complete, a.pending])
        refused(await api.del(`/attachments/${id}`, { token: mallory.accessToken }));
    },
    'GET /api/v1/calls/{callId}': async () => {
      refused(await api.get(`/calls/${a.callId}`, { token: mallory.accessToken }), [404]);
    },
    'POST /api/v1/calls/answer': async () => {
      refused(await api.post('/calls/answer', { callId: a.callId, sdp: 'v=0' }, { token: mallory.accessToken }));
    },
    'POST /api/v1/calls/ice': async () => {
      refused(await api.post('/calls/ice', { callId: a.callId, candidates: ['c'] }, { token: mallory.accessToken }));
    },
    'POST /api/v1/calls/hangup': async () => {
      refused(await api.post('/calls/hangup', { callId: a.callId }, { token: mallory.accessToken }));
    },
  };

  it('every operation of the OpenAPI document is classified (a new route without a row here fails)', () => {
    const classified = new Set([...PUBLIC, ...SHARED, ...OWN, ...Object.keys(crossUser)]);
    expect(ops.length).toBeGreaterThanOrEqual(30);
    expect(ops.map((o) => o.key).filter((k) => !classified.has(k))).toEqual([]);
    // Every operation with a path id is public, shared by design or in the cross-user matrix.
    const withId = ops.filter((o) => o.path.includes('{') && !PUBLIC.has(o.key) && !SHARED.has(o.key));
    expect(withId.map((o) => o.key).filter((k) => !(k in crossUser))).toEqual([]);
    // The allow-list is true to the document: public ones have no security, the others all do.
    for (const o of ops) expect(o.authed, o.key).toBe(!PUBLIC.has(o.key));
    // No stale rows: every row names a real operation.
    expect([...classified].filter((k) => !ops.some((o) => o.key === k))).toEqual([]);
  });

  it('B acting on A’s resources by id is refused (403/404) and nothing of A’s changes', async () => {
    const before = await aliceView();
    expect(before).toMatchObject({ me: [1, 2], call: 'ringing', attachment: 200, pending: 'pending' });
    expect(before.statuses).toEqual(['sent', 'sent', 'sent']);
    for (const [key, attempt] of Object.entries(crossUser)) {
      await attempt().catch((e: Error) => {
        throw new Error(`${key}: ${e.message}`);
      });
    }
    expect(await aliceView()).toEqual(before);
    // Carol heard nothing from B's attempts on the call.
    carolCalls.send({ type: 'ping' });
    await carolCalls.next((f) => f.type === 'pong');
    expect(carolCalls.frames.filter((f) => !['offer', 'pong'].includes(f.type))).toEqual([]);
    // And A's recipients still get their envelopes: B's ack did not consume them.
    const q = await api.get('/messages/queue', { token: bob.accessToken });
    expect(q.body.messages.map((m: { id: string }) => m.id)).toContain(a.toBob);
  });

  it('shared by design: the key directory and attachments by id answer any authenticated user, read-only', async () => {
    const bundle = await api.get(`/keys/bundle/${alice.userId}?deviceId=1`, { token: mallory.accessToken });
    expect(bundle.status).toBe(200);
    expect(Object.keys(bundle.body.devices[0]).sort()).toEqual(
      ['deviceId', 'kyberPreKey', 'preKey', 'registrationId', 'signedPreKey'].sort(),
    );
    const att = await api.get(`/attachments/${a.complete}`, { token: mallory.accessToken });
    expect(att.status).toBe(200);
    // An incomplete one is not served to anyone but stays A's.
    expect((await api.get(`/attachments/${a.pending}`, { token: mallory.accessToken })).status).toBe(404);
  });

  it('own-only GET routes show B nothing of A’s (no id of A’s resources in any reply)', async () => {
    const secrets = [alice.userId, a.toBob, ...a.fromBob, a.pending, a.complete, a.callId];
    for (const o of ops.filter(
      (x) => OWN.has(x.key) && x.method === 'GET' && !x.path.endsWith('/stream') && !x.path.endsWith('/signal'),
    )) {
      const r = await api.get(o.path.replace('/api/v1', ''), { token: mallory.accessToken });
      expect(r.status, o.key).toBe(200);
      const text = JSON.stringify(r.body);
      expect(
        secrets.filter((s) => text.includes(s)),
        o.key,
      ).toEqual([]);
    }
  });

  it('every authenticated route answers 401 UNAUTHORIZED without a token, with a bad one, and with a refresh token', async () => {
    const fill = (p: string) =>
      p
        .replace('{deviceId}', '2')
        .replace('{userId}', alice.userId)
        .replace('{chatId}', alice.userId)
        .replace('{callId}', a.callId)
        .replace('{id}', a.complete);
    let checked = 0;
    for (const o of ops.filter((x) => x.authed)) {
      for (const token of [undefined, 'garbage', `${alice.accessToken}x`, alice.refreshToken]) {
        const headers: Record<string, string> = {};
        if (token) headers.authorization = `Bearer ${token}`;
        const hasBody = o.method === 'POST' || o.method === 'PUT';
        if (hasBody) headers['content-type'] = 'application/json';
        const res = await fetch(`${server.url}${fill(o.path)}`, {
          method: o.method,
          headers,
          body: hasBody ? '{}' : undefined,
        });
        const body = (await res.json()) as { error?: { code?: string } };
        expect(res.status, `${o.key} token=${String(token).slice(0, 10)}`).toBe(401);
        expect(body.error?.code, o.key).toBe('UNAUTHORIZED');
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4 * 20);
    // Nothing was done by the refused calls: A is still logged in, her call still rings.
    expect((await api.get('/me', { token: alice.accessToken })).status).toBe(200);
    expect((await api.get(`/calls/${a.callId}`, { token: alice.accessToken })).body.state).toBe('ringing');
  });
});

describe('other token types are not access tokens (REST, WebSocket, gRPC)', () => {
  let { server, otp, api } = {} as ServerContext;
  useServer({ JWT_SECRET: SECRET }, (c) => ({ server, otp, api } = c));

  const key = new TextEncoder().encode(SECRET);
  const mint = (sub: string, dev: number, opts: { aud?: string; ver?: number } = {}) =>
    new SignJWT({ dev, ver: opts.ver ?? 0 })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer('snaptalker')
      .setAudience(opts.aud ?? 'snaptalker-api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  /** Asserts `token` is refused with 401 on REST, on both WebSocket upgrades and on gRPC. */
  async function refusedEverywhere(token: string, what: string) {
    const r = await api.get('/me', { token });
    expect(r.status, what).toBe(401);
    expect(r.body.error.code, what).toBe('UNAUTHORIZED');
    for (const path of ['/api/v1/messages/stream', '/api/v1/calls/signal'])
      await expect(TestSocket.connect(server.url, token, 'header', path), `${what} ${path}`).rejects.toThrow(
        'upgrade refused: 401',
      );
    const grpcMessages = grpcClient(MessageService, server.grpcPort, { token });
    const f = await failure(grpcMessages.markDelivered({ ids: [] }));
    expect(f.code, what).toBe(grpc.status.UNAUTHENTICATED);
    grpcMessages.close();
  }

  it('a refresh token used as an access token → 401', async () => {
    const u = await createUser(api, otp);
    await refusedEverywhere(u.refreshToken, 'refresh token');
    // It is still a good refresh token (refusing it as an access token did not burn it).
    expect((await api.post('/auth/refresh', { refreshToken: u.refreshToken })).status).toBe(200);
  });

  it('an access token for another audience (snaptalker-admin, same secret) → 401; the same claims for ours → 200', async () => {
    const u = await createUser(api, otp);
    expect((await api.get('/me', { token: await mint(u.userId, 1) })).status).toBe(200);
    for (const aud of ['snaptalker-admin', 'snaptalker', 'snaptalker-api-x'])
      await refusedEverywhere(await mint(u.userId, 1, { aud }), `aud ${aud}`);
  });

  it('a token for an unlinked device, a never-linked device or a deleted-looking user → 401', async () => {
    const u = await createUser(api, otp);
    const second = await linkDevice(api, u);
    expect((await api.get('/me', { token: second.accessToken })).status).toBe(200);
    expect((await api.del(`/devices/${second.deviceId}`, { token: u.accessToken })).status).toBe(204);
    await refusedEverywhere(second.accessToken, 'unlinked device');
    // Even freshly signed with the real key: the device is gone, whatever version it claims.
    for (const ver of [0, 1, 2])
      await refusedEverywhere(await mint(u.userId, second.deviceId, { ver }), `unlinked v${ver}`);
    await refusedEverywhere(await mint(u.userId, 77), 'never-linked device');
    await refusedEverywhere(await mint(randomUUID(), 1), 'unknown user');
  });
});
