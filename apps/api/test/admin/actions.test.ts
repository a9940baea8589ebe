import { randomUUID } from 'node:crypto';
import { errorCode } from '@snaptalker/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminSession, createAdmin, type trpcAs } from '../helpers/admin.js';
import { createUser, linkDevice, type TestUser } from '../helpers/api.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { SignalDevice } from '../helpers/signal-client.js';
import { TestSocket } from '../helpers/ws-client.js';

type Trpc = ReturnType<typeof trpcAs>;
const fail = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const blob = (s: string) => Buffer.from(s).toString('base64');

describe('admin actions reach users through the service layer', () => {
  let { server, otp, api, db } = {} as ServerContext;
  useServer({ ADMIN_STATS_INTERVAL_MS: '200' }, (c) => ({ server, otp, api, db } = c));
  let op: Trpc;
  let operatorId: string;
  beforeAll(async () => {
    const a = await createAdmin(server, 'operator');
    operatorId = a.id;
    op = (await adminSession(server, a)).trpc;
  });

  it('ban closes the user’s live sockets with 4403 and REST answers 403 BANNED; unban restores them', async () => {
    const u = await createUser(api, otp);
    const second = await linkDevice(api, u, 'laptop');
    const s1 = await TestSocket.connect(server.url, u.accessToken);
    const s2 = await TestSocket.connect(server.url, second.accessToken);
    expect(await op.admin.users.ban.mutate({ userId: u.userId })).toEqual({ ok: true });
    expect((await s1.closed).code).toBe(4403);
    expect((await s2.closed).code).toBe(4403);
    const me = await api.get('/me', { token: u.accessToken });
    expect(me.status).toBe(403);
    expect(me.body.error.code).toBe('BANNED');
    expect((await op.admin.users.get.query({ userId: u.userId })).banned).toBe(true);
    const audit = await op.admin.audit.list.query({ action: 'user.ban', targetId: u.userId });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ actorType: 'admin', actorId: operatorId });

    await op.admin.users.unban.mutate({ userId: u.userId });
    expect((await api.get('/me', { token: u.accessToken })).status).toBe(200);
    expect((await op.admin.audit.list.query({ action: 'user.unban', targetId: u.userId })).items).toHaveLength(1);
    expect(errorCode(await fail(op.admin.users.ban.mutate({ userId: randomUUID() })))).toBe('NOT_FOUND');
  });

  it('revoke all sessions: every device signs in again (sockets 4401, tokens and refresh tokens dead), devices stay', async () => {
    const u = await createUser(api, otp);
    const second = await linkDevice(api, u);
    const s = await TestSocket.connect(server.url, second.accessToken);
    expect(await op.admin.users.revokeSessions.mutate({ userId: u.userId })).toEqual({ ok: true, devices: 2 });
    expect((await s.closed).code).toBe(4401);
    expect((await api.get('/me', { token: u.accessToken })).status).toBe(401);
    expect((await api.post('/auth/refresh', { refreshToken: second.refreshToken })).status).toBe(401);
    expect((await op.admin.users.get.query({ userId: u.userId })).devices).toHaveLength(2);
    const again = await api.post('/auth/login', { login: u.username, password: u.password });
    expect(again.status).toBe(200);
  });

  it('unlink a device: it is gone with its socket (4401); device 1 and unknown devices are refused', async () => {
    const u = await createUser(api, otp);
    const tablet = await linkDevice(api, u, 'tablet');
    const s = await TestSocket.connect(server.url, tablet.accessToken);
    expect(errorCode(await fail(op.admin.users.unlinkDevice.mutate({ userId: u.userId, deviceId: 1 })))).toBe(
      'FORBIDDEN',
    );
    expect(errorCode(await fail(op.admin.users.unlinkDevice.mutate({ userId: u.userId, deviceId: 77 })))).toBe(
      'NOT_FOUND',
    );
    await op.admin.users.unlinkDevice.mutate({ userId: u.userId, deviceId: tablet.deviceId });
    expect((await s.closed).code).toBe(4401);
    expect((await api.get('/me', { token: tablet.accessToken })).status).toBe(401);
    const me = await api.get('/me', { token: u.accessToken });
    expect(me.body.devices.map((d: { deviceId: number }) => d.deviceId)).toEqual([1]);
    const audit = await op.admin.audit.list.query({
      action: 'device.unlink',
      targetId: `${u.userId}.${tablet.deviceId}`,
    });
    expect(audit.items).toHaveLength(1);
  });

  it('search by id, phone or username prefix, paged; phones masked unless revealed (and the reveal audited)', async () => {
    const prefix = `pg_${randomUUID().slice(0, 8)}`;
    const a = await createUser(api, otp, { username: `${prefix}_a` });
    const b = await createUser(api, otp, { username: `${prefix}_b` });
    for (const q of [a.userId, a.phone, a.username, prefix.toUpperCase()]) {
      const r = await op.admin.users.search.query({ q, limit: 100 });
      expect(
        r.items.some((i) => i.id === a.userId),
        `found by ${q}`,
      ).toBe(true);
    }
    const one = (await op.admin.users.search.query({ q: a.phone })).items;
    expect(one).toHaveLength(1);
    expect(one[0]?.phoneMasked).not.toContain(a.phone.slice(3, -2));
    expect(JSON.stringify(await op.admin.users.get.query({ userId: a.userId }))).not.toContain(a.phone);
    // LIKE wildcards are literal: '%' matches no username (they are letters, digits and _).
    expect((await op.admin.users.search.query({ q: '%' })).items).toEqual([]);

    // Newest first, pages never overlap.
    const p1 = await op.admin.users.search.query({ q: prefix, limit: 1 });
    expect(p1.items.map((i) => i.id)).toEqual([b.userId]);
    const p2 = await op.admin.users.search.query({ q: prefix, limit: 1, cursor: p1.nextCursor ?? '' });
    expect(p2.items.map((i) => i.id)).toEqual([a.userId]);
    expect(p2.nextCursor).toBeNull();
    // `_` is literal too: the prefix with its underscore matched exactly these two.
    expect((await op.admin.users.search.query({ q: `${prefix}_` })).items).toHaveLength(2);
    expect(errorCode(await fail(op.admin.users.search.query({ cursor: 'garbage' })))).toBe('VALIDATION_FAILED');

    expect(await op.admin.users.revealPhone.mutate({ userId: a.userId })).toEqual({ phone: a.phone });
    const rows = await db.query(
      "SELECT actor_id FROM audit_log WHERE action = 'user.phone_revealed' AND target_id = $1",
      [a.userId],
    );
    expect(rows.rows).toEqual([{ actor_id: operatorId }]);
  });

  it('a user’s page shows devices with prekey stock and signed-prekey age; Keys lists the low ones', async () => {
    const u = await createUser(api, otp);
    const d = await SignalDevice.create({ userId: u.userId, deviceId: 1 });
    const up = await api.post('/keys/upload', await d.generateKeys({ preKeys: 3, kyberPreKeys: 2 }), {
      token: u.accessToken,
    });
    expect(up.status).toBe(200);
    const page = await op.admin.users.get.query({ userId: u.userId });
    expect(page.devices).toHaveLength(1);
    expect(page.devices[0]?.prekeys).toEqual({ ec: 3, kyber: 2 });
    expect(page.devices[0]?.signedPreKeyCreatedAt).not.toBeNull();
    expect(page.attachments).toEqual({ count: 0, bytes: 0 });
    let found: { ec: number; kyber: number } | undefined;
    let cursor: string | undefined;
    for (let i = 0; i < 50 && !found; i++) {
      const low = await op.admin.keys.low.query({ limit: 100, ...(cursor ? { cursor } : {}) });
      expect(low.watermark).toBe(10);
      found = low.items.find((x) => x.userId === u.userId);
      if (!low.nextCursor) break;
      cursor = low.nextCursor;
    }
    expect(found).toMatchObject({ ec: 3, kyber: 2 });
  });

  it('the dashboard counts sends across the deployment and open sockets, with a per-10 s series', async () => {
    const alice = await createUser(api, otp);
    const bob: TestUser = await createUser(api, otp);
    const d = await SignalDevice.create({ userId: bob.userId, deviceId: 1 });
    await api.post('/keys/upload', await d.generateKeys({ preKeys: 1, kyberPreKeys: 1 }), { token: bob.accessToken });
    const s = await TestSocket.connect(server.url, bob.accessToken);
    for (let i = 0; i < 30; i++) {
      const r = await api.post(
        '/messages/send',
        {
          recipientId: bob.userId,
          clientMessageId: randomUUID(),
          messages: [{ deviceId: 1, registrationId: d.registrationId, type: 'message', content: blob(`m${i}`) }],
        },
        { token: alice.accessToken },
      );
      expect(r.status).toBe(200);
    }
    let dash = await op.admin.dashboard.query();
    for (let i = 0; i < 50 && (dash.messagesPerSecond === 0 || dash.sockets.messages === 0); i++) {
      await sleep(100);
      dash = await op.admin.dashboard.query();
    }
    expect(dash.messagesPerSecond).toBeGreaterThan(0);
    expect(dash.sockets.messages).toBeGreaterThanOrEqual(1);
    expect(dash.nodes.some((n) => n.messageSockets >= 1)).toBe(true);
    expect(dash.series.length).toBe(60);
    expect(dash.series.reduce((a, b) => a + b.messagesPerSecond, 0)).toBeGreaterThan(0);
    expect(dash.users).toBeGreaterThanOrEqual(2);
    expect(dash.devices).toBeGreaterThanOrEqual(2);
    expect(dash.queueDepth).toBeGreaterThanOrEqual(0);
    s.ws.close();
  });
});
