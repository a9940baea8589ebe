import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { client, createUser, linkDevice, type TestUser } from '../helpers/api.js';
import { startTestServer } from '../helpers/server.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { b64, type BundleJson, SignalDevice } from '../helpers/signal-client.js';

describe('key directory over REST, proven with the real libsignal client', () => {
  let { server, otp, api, db } = {} as ServerContext;
  useServer({}, (c) => ({ server, otp, api, db } = c));

  async function keyRows(userId: string) {
    const r = await db.query(
      'SELECT kind::text, count(*)::int AS n FROM prekeys WHERE user_id = $1 GROUP BY 1 ORDER BY 1',
      [userId],
    );
    const s = await db.query('SELECT count(*)::int AS n FROM signed_prekeys WHERE user_id = $1', [userId]);
    return { prekeys: r.rows, signed: s.rows[0].n as number };
  }

  async function withKeys(opts: { preKeys?: number; kyberPreKeys?: number } = {}) {
    const user = await createUser(api, otp);
    const device = await SignalDevice.create({ userId: user.userId, deviceId: 1 });
    const upload = await device.generateKeys({ preKeys: opts.preKeys ?? 100, kyberPreKeys: opts.kyberPreKeys ?? 10 });
    const r = await api.post('/keys/upload', upload, { token: user.accessToken });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({ preKeyCount: opts.preKeys ?? 100, kyberPreKeyCount: opts.kyberPreKeys ?? 10 });
    return { user, device, upload };
  }

  async function converse(alice: SignalDevice, aliceUser: TestUser, bob: SignalDevice, bobUser: TestUser) {
    const bundle = await api.get<BundleJson>(`/keys/bundle/${bobUser.userId}`, { token: aliceUser.accessToken });
    expect(bundle.status).toBe(200);
    // The bundle is rebuilt from its JSON alone, as a remote client would.
    const json = JSON.parse(JSON.stringify(bundle.body)) as BundleJson;
    await alice.startSession(json, 1);
    const first = await alice.encrypt(bobUser.userId, 1, 'hello bob');
    expect(first.type).toBe('prekey');
    expect(await bob.decrypt(aliceUser.userId, 1, first)).toBe('hello bob');
    for (let i = 0; i < 3; i++) {
      const reply = await bob.encrypt(aliceUser.userId, 1, `reply ${i}`);
      expect(await alice.decrypt(bobUser.userId, 1, reply)).toBe(`reply ${i}`);
      const next = await alice.encrypt(bobUser.userId, 1, `message ${i}`);
      expect(next.type).toBe('message');
      expect(await bob.decrypt(aliceUser.userId, 1, next)).toBe(`message ${i}`);
    }
    return json;
  }

  it('Alice fetches Bob’s bundle, builds a PreKeyBundle from JSON, and they talk both ways (PQXDH with one-time keys)', async () => {
    const bob = await withKeys();
    const alice = await withKeys({ preKeys: 5, kyberPreKeys: 1 });
    const bundle = await converse(alice.device, alice.user, bob.device, bob.user);
    const dev = bundle.devices[0];
    expect(bundle.identityKey).toBe(bob.upload.identityKey);
    // Any unused one-time key may be claimed (no ORDER BY on the hot path); it must be one Bob uploaded.
    expect(bob.upload.preKeys.map((k) => k.keyId)).toContain(dev?.preKey?.keyId);
    expect(bob.upload.kyberPreKeys.map((k) => k.keyId)).toContain(dev?.kyberPreKey?.keyId);
    expect((await api.get('/keys/count', { token: bob.user.accessToken })).body).toEqual({
      preKeyCount: 99,
      kyberPreKeyCount: 9,
    });
  });

  it('with one-time EC and Kyber keys exhausted, signed + last-resort keys still establish a session', async () => {
    const bob = await withKeys({ preKeys: 1, kyberPreKeys: 1 });
    const drainer = await createUser(api, otp);
    const first = await api.get<BundleJson>(`/keys/bundle/${bob.user.userId}`, { token: drainer.accessToken });
    expect(first.body.devices[0]?.preKey).toBeDefined();
    const alice = await withKeys({ preKeys: 1, kyberPreKeys: 1 });
    const bundle = await converse(alice.device, alice.user, bob.device, bob.user);
    expect(bundle.devices[0]?.preKey).toBeUndefined();
    expect(bundle.devices[0]?.kyberPreKey?.keyId).toBe(bob.upload.kyberLastResortPreKey?.keyId);
    // The last-resort key is not consumed.
    const again = await api.get<BundleJson>(`/keys/bundle/${bob.user.userId}`, { token: drainer.accessToken });
    expect(again.body.devices[0]?.kyberPreKey?.keyId).toBe(bob.upload.kyberLastResortPreKey?.keyId);
  });

  it('rejects bad input with 400 and stores nothing: bad signature, 32-byte key, non-base64, 101 prekeys, keyId 2^24', async () => {
    const user = await createUser(api, otp);
    const device = await SignalDevice.create({ userId: user.userId, deviceId: 1 });
    const good = await device.generateKeys({ preKeys: 100, kyberPreKeys: 2 });
    const other = await SignalDevice.create({ userId: user.userId, deviceId: 1 });
    const foreign = await other.generateKeys({ preKeys: 1, kyberPreKeys: 1 });
    const before = await keyRows(user.userId);
    const bad = [
      { ...good, signedPreKey: { ...good.signedPreKey, signature: foreign.signedPreKey.signature } },
      {
        ...good,
        kyberPreKeys: [
          good.kyberPreKeys[0],
          { ...(good.kyberPreKeys[1] as object), signature: foreign.kyberPreKeys[0]?.signature },
        ],
      },
      { ...good, preKeys: [...good.preKeys.slice(0, 99), { keyId: 5000, publicKey: b64(new Uint8Array(32).fill(7)) }] },
      { ...good, identityKey: `${good.identityKey.slice(0, -4)}!!!!` },
      { ...good, preKeys: [...good.preKeys, { keyId: 99_999, publicKey: good.preKeys[0]?.publicKey }] },
      { ...good, preKeys: [{ keyId: 2 ** 24, publicKey: good.preKeys[0]?.publicKey }] },
      { ...good, unexpected: true },
    ];
    const codes = [];
    for (const body of bad) {
      const r = await api.post('/keys/upload', body, { token: user.accessToken });
      expect(r.status, JSON.stringify(r.body).slice(0, 200)).toBe(400);
      codes.push(r.body.error.code);
    }
    expect(codes).toEqual([
      'INVALID_SIGNATURE',
      'INVALID_SIGNATURE',
      'VALIDATION_FAILED',
      'VALIDATION_FAILED',
      'VALIDATION_FAILED',
      'VALIDATION_FAILED',
      'VALIDATION_FAILED',
    ]);
    expect(await keyRows(user.userId)).toEqual(before);
    expect(before).toEqual({ prekeys: [], signed: 0 });
    // First upload needs identity, registration id and signed prekey.
    const partial = await api.post('/keys/upload', { preKeys: good.preKeys.slice(0, 3) }, { token: user.accessToken });
    expect(partial.status).toBe(400);
    // And the good one is accepted.
    expect((await api.post('/keys/upload', good, { token: user.accessToken })).status).toBe(200);
  });

  it('200 concurrent fetches against 100 one-time prekeys: exactly 100 distinct keys, 100 without preKey, no duplicates', async () => {
    const bob = await withKeys({ preKeys: 100, kyberPreKeys: 10 });
    const fetchers = await Promise.all(Array.from({ length: 4 }, () => createUser(api, otp)));
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        api.get<BundleJson>(`/keys/bundle/${bob.user.userId}`, { token: fetchers[i % 4]?.accessToken }),
      ),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const ids = results.map((r) => r.body.devices[0]?.preKey?.keyId).filter((id): id is number => id !== undefined);
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);
    expect(results.filter((r) => !r.body.devices[0]?.preKey)).toHaveLength(100);
    const kyberIds = results.map((r) => r.body.devices[0]?.kyberPreKey?.keyId);
    const lastResort = bob.upload.kyberLastResortPreKey?.keyId;
    const oneTimeKyber = kyberIds.filter((id) => id !== lastResort);
    expect(new Set(oneTimeKyber).size).toBe(10);
    expect(oneTimeKyber).toHaveLength(10);
    expect((await api.get('/keys/count', { token: bob.user.accessToken })).body).toEqual({
      preKeyCount: 0,
      kyberPreKeyCount: 0,
    });
  });

  it('claims arriving together (one statement) each get their own target: mixed users, a missing one, one without keys', async () => {
    const targets = await Promise.all([
      withKeys({ preKeys: 3, kyberPreKeys: 1 }),
      withKeys({ preKeys: 5, kyberPreKeys: 0 }),
    ]);
    const keyless = await createUser(api, otp);
    const fetcher = await createUser(api, otp);
    const missing = '00000000-0000-4000-8000-000000000000';
    const asks = [
      ...Array.from({ length: 8 }, (_, i) => (targets[i % 2] as (typeof targets)[number]).user.userId),
      missing,
      keyless.userId,
    ];
    const results = await Promise.all(
      asks.map((id) => api.get<BundleJson>(`/keys/bundle/${id}`, { token: fetcher.accessToken })),
    );
    expect(results.slice(8).map((r) => r.status)).toEqual([404, 404]);
    for (const [i, t] of targets.entries()) {
      const mine = results.filter((_, j) => j < 8 && j % 2 === i);
      expect(mine.every((r) => r.status === 200 && r.body.identityKey === t.upload.identityKey)).toBe(true);
      const ecIds = mine.map((r) => r.body.devices[0]?.preKey?.keyId).filter((k) => k !== undefined);
      const uploaded = new Set(t.upload.preKeys.map((k) => k.keyId));
      // 4 claims each: target 0 has 3 one-time keys (one claim goes without), target 1 has 5.
      expect(ecIds).toHaveLength(i === 0 ? 3 : 4);
      expect(new Set(ecIds).size).toBe(ecIds.length);
      expect(ecIds.every((k) => uploaded.has(k as number))).toBe(true);
      // Kyber: target 0's one one-time key once, then its last-resort key; target 1 only its last resort.
      const ky = mine.map((r) => r.body.devices[0]?.kyberPreKey?.keyId);
      const lastResort = t.upload.kyberLastResortPreKey?.keyId;
      expect(ky.filter((k) => k !== lastResort)).toHaveLength(i === 0 ? 1 : 0);
    }
    expect((await api.get('/keys/count', { token: targets[0]?.user.accessToken })).body.preKeyCount).toBe(0);
    expect((await api.get('/keys/count', { token: targets[1]?.user.accessToken })).body.preKeyCount).toBe(1);
  });

  it('the same claim atomicity across two API nodes', async () => {
    const other = await startTestServer({ OTP_WEBHOOK_URL: otp.url });
    try {
      const bob = await withKeys({ preKeys: 50, kyberPreKeys: 1 });
      const fetcher = await createUser(api, otp);
      const apis = [api, client(other.url)];
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          apis[i % 2]?.get<BundleJson>(`/keys/bundle/${bob.user.userId}`, { token: fetcher.accessToken }),
        ),
      );
      const ids = results.map((r) => r?.body.devices[0]?.preKey?.keyId).filter((id) => id !== undefined);
      expect(ids).toHaveLength(50);
      expect(new Set(ids).size).toBe(50);
    } finally {
      await other.close();
    }
  });

  it('counts, DELETE /keys/prekey/:id (idempotent, own keys only), signed-prekey rotation with bad signature rejected', async () => {
    const bob = await withKeys({ preKeys: 10, kyberPreKeys: 2 });
    const id = bob.upload.preKeys[3]?.keyId as number;
    expect((await api.del(`/keys/prekey/${id}`, { token: bob.user.accessToken })).status).toBe(204);
    expect((await api.del(`/keys/prekey/${id}`, { token: bob.user.accessToken })).status).toBe(204);
    expect((await api.get('/keys/count', { token: bob.user.accessToken })).body.preKeyCount).toBe(9);
    expect((await api.del('/keys/prekey/777777', { token: bob.user.accessToken })).status).toBe(404);
    const mallory = await withKeys({ preKeys: 1, kyberPreKeys: 1 });
    expect(
      (await api.del(`/keys/prekey/${bob.upload.preKeys[4]?.keyId}`, { token: mallory.user.accessToken })).status,
    ).toBe(404);
    expect((await api.get('/keys/count', { token: bob.user.accessToken })).body.preKeyCount).toBe(9);

    const fresh = await bob.device.generateKeys({ preKeys: 0, kyberPreKeys: 0, lastResort: false, signedPreKeyId: 42 });
    const forged = { ...fresh.signedPreKey, signature: mallory.upload.signedPreKey.signature };
    const rejected = await api.post('/keys/signed-prekey', forged, { token: bob.user.accessToken });
    expect(rejected.status).toBe(400);
    expect(rejected.body.error.code).toBe('INVALID_SIGNATURE');
    expect((await api.post('/keys/signed-prekey', fresh.signedPreKey, { token: bob.user.accessToken })).status).toBe(
      204,
    );
    const b = await api.get<BundleJson>(`/keys/bundle/${bob.user.userId}`, { token: mallory.user.accessToken });
    expect(b.body.devices[0]?.signedPreKey).toEqual(fresh.signedPreKey);
  });

  it('keys.low is published when a claim takes the count below the watermark (at 9, not at 10), once', async () => {
    const bob = await withKeys({ preKeys: 11, kyberPreKeys: 1 });
    const events: string[] = [];
    const unsub = await server.infra.broker.subscribe(`device:${bob.user.userId}:1`, (p) => events.push(p));
    const fetcher = await createUser(api, otp);
    const lows = () => events.map((e) => JSON.parse(e)).filter((e) => e.type === 'keys.low');
    await api.get(`/keys/bundle/${bob.user.userId}`, { token: fetcher.accessToken }); // 10 left
    await new Promise((r) => setTimeout(r, 100));
    expect(lows()).toEqual([]);
    await api.get(`/keys/bundle/${bob.user.userId}`, { token: fetcher.accessToken }); // 9 left
    await api.get(`/keys/bundle/${bob.user.userId}`, { token: fetcher.accessToken }); // 8 left
    await new Promise((r) => setTimeout(r, 200));
    expect(lows()).toEqual([{ type: 'keys.low', preKeyCount: 9, kyberPreKeyCount: 0 }]);
    await unsub();
  });

  it('identity key: device 1 may change it (account prekeys discarded), another device gets 409; 404 for unknown users', async () => {
    const bob = await withKeys({ preKeys: 5, kyberPreKeys: 1 });
    const d2 = await linkDevice(api, bob.user);
    const dev2 = await SignalDevice.create({
      userId: bob.user.userId,
      deviceId: d2.deviceId,
      identity: bob.device.identity,
    });
    expect(
      (
        await api.post('/keys/upload', await dev2.generateKeys({ preKeys: 3, kyberPreKeys: 1 }), {
          token: d2.accessToken,
        })
      ).status,
    ).toBe(200);

    const stranger = await SignalDevice.create({ userId: bob.user.userId, deviceId: d2.deviceId });
    const conflict = await api.post('/keys/upload', await stranger.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), {
      token: d2.accessToken,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('CONFLICT');

    const reinstalled = await SignalDevice.create({ userId: bob.user.userId, deviceId: 1 });
    const changed = await api.post('/keys/upload', await reinstalled.generateKeys({ preKeys: 2, kyberPreKeys: 1 }), {
      token: bob.user.accessToken,
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ preKeyCount: 2, kyberPreKeyCount: 1 });
    expect((await api.get('/keys/count', { token: d2.accessToken })).body).toEqual({
      preKeyCount: 0,
      kyberPreKeyCount: 0,
    });
    const version = await db.query('SELECT identity_key_version FROM users WHERE id = $1', [bob.user.userId]);
    expect(version.rows[0].identity_key_version).toBe(1);
    // Device 2 must upload again: its bundle is gone until it does.
    expect(
      (await api.get(`/keys/bundle/${bob.user.userId}?deviceId=${d2.deviceId}`, { token: bob.user.accessToken }))
        .status,
    ).toBe(404);

    expect((await api.get(`/keys/bundle/${randomUUID()}`, { token: bob.user.accessToken })).status).toBe(404);
    const noKeys = await createUser(api, otp);
    expect((await api.get(`/keys/bundle/${noKeys.userId}`, { token: bob.user.accessToken })).body.error.code).toBe(
      'NOT_FOUND',
    );
  });
});
