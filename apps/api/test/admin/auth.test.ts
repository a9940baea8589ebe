import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode, errorDetails } from '@snaptalker/sdk';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server.js';
import { adminSession, createAdmin, trpcAs } from '../helpers/admin.js';
import { createUser, randomIp } from '../helpers/api.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { startTestServerWithLogs, testEnv } from '../helpers/server.js';

const fail = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('admin sign-in: sessions, lockout, token separation', () => {
  let { server, otp, api } = {} as ServerContext;
  useServer({ ADMIN_LOCKOUT_FAILURES: '3', ADMIN_LOCKOUT_S: '2', ADMIN_REFRESH_GRACE_MS: '300' }, (c) => {
    ({ server, otp, api } = c);
  });
  const anon = () => trpcAs(server, () => null);

  it('a wrong password and an unknown email get the same INVALID_CREDENTIALS; the right one a session', async () => {
    const a = await createAdmin(server, 'viewer');
    const wrong = await fail(anon().admin.auth.login.mutate({ email: a.email, password: 'not the password' }));
    expect(errorCode(wrong)).toBe('INVALID_CREDENTIALS');
    const unknown = await fail(anon().admin.auth.login.mutate({ email: 'nobody@example.test', password: 'x' }));
    expect(errorCode(unknown)).toBe('INVALID_CREDENTIALS');
    // Emails compare case-insensitively.
    const { session, trpc } = await adminSession(server, { ...a, email: a.email.toUpperCase() });
    expect(session.admin).toEqual({ id: a.id, email: a.email, role: 'viewer' });
    expect(session.expiresIn).toBe(300);
    expect(await trpc.admin.me.query()).toEqual({ id: a.id, email: a.email, role: 'viewer' });
  });

  it('locks the account after consecutive failures (even the right password), then lets it in again', async () => {
    const a = await createAdmin(server, 'operator');
    for (let i = 0; i < 2; i++) {
      expect(errorCode(await fail(anon().admin.auth.login.mutate({ email: a.email, password: 'wrong' })))).toBe(
        'INVALID_CREDENTIALS',
      );
    }
    const third = await fail(anon().admin.auth.login.mutate({ email: a.email, password: 'wrong' }));
    expect(errorCode(third)).toBe('RATE_LIMITED');
    expect(errorDetails(third).retryAfter).toBeGreaterThan(0);
    const right = await fail(anon().admin.auth.login.mutate({ email: a.email, password: a.password }));
    expect(errorCode(right), 'locked: the password is not even checked').toBe('RATE_LIMITED');
    await sleep(2_100);
    const { trpc } = await adminSession(server, a);
    expect((await trpc.admin.me.query()).id).toBe(a.id);
  });

  it('user tokens never pass as admin tokens, and admin tokens never act as users', async () => {
    const user = await createUser(api, otp);
    const asUser = trpcAs(server, () => user.accessToken);
    expect(errorCode(await fail(asUser.admin.me.query()))).toBe('UNAUTHORIZED');
    expect(errorCode(await fail(asUser.admin.users.search.query({})))).toBe('UNAUTHORIZED');
    const { session, trpc } = await adminSession(server, await createAdmin(server, 'owner'));
    expect(errorCode(await fail(trpc.auth.me.query()))).toBe('UNAUTHORIZED');
    expect((await api.get('/me', { token: session.accessToken })).status).toBe(401);
    // Nor does a user's refresh token open an admin session, or the reverse.
    expect(errorCode(await fail(anon().admin.auth.refresh.mutate({ refreshToken: user.refreshToken })))).toBe(
      'UNAUTHORIZED',
    );
    expect((await api.post('/auth/refresh', { refreshToken: session.refreshToken })).status).toBe(401);
  });

  it('refresh rotates the token; a replay inside the grace is refused, after it ends the session', async () => {
    const { session } = await adminSession(server, await createAdmin(server, 'viewer'));
    const r1 = await anon().admin.auth.refresh.mutate({ refreshToken: session.refreshToken });
    expect(r1.refreshToken).not.toBe(session.refreshToken);
    expect((await trpcAs(server, () => r1.accessToken).admin.me.query()).id, 'the new access token works').toBe(
      session.admin.id,
    );
    // A concurrent request of the console replaying the old token: refused, the session lives on.
    expect(errorCode(await fail(anon().admin.auth.refresh.mutate({ refreshToken: session.refreshToken })))).toBe(
      'UNAUTHORIZED',
    );
    const r2 = await anon().admin.auth.refresh.mutate({ refreshToken: r1.refreshToken });
    await sleep(350);
    // r1 again, after the grace: someone kept a copy. The whole session ends, r2 included.
    expect(errorCode(await fail(anon().admin.auth.refresh.mutate({ refreshToken: r1.refreshToken })))).toBe(
      'TOKEN_REUSED',
    );
    expect(errorCode(await fail(anon().admin.auth.refresh.mutate({ refreshToken: r2.refreshToken })))).toBe(
      'UNAUTHORIZED',
    );
    expect(errorCode(await fail(trpcAs(server, () => r2.accessToken).admin.me.query()))).toBe('UNAUTHORIZED');
  });

  it('logout ends the session at once: its access token and refresh token die', async () => {
    const { session, trpc } = await adminSession(server, await createAdmin(server, 'viewer'));
    expect(await trpc.admin.auth.logout.mutate()).toEqual({ ok: true });
    expect(errorCode(await fail(trpc.admin.me.query()))).toBe('UNAUTHORIZED');
    expect(errorCode(await fail(anon().admin.auth.refresh.mutate({ refreshToken: session.refreshToken })))).toBe(
      'UNAUTHORIZED',
    );
  });

  it('disabling an admin ends their sessions; a demotion applies on the very next call', async () => {
    const owner = (await adminSession(server, await createAdmin(server, 'owner'))).trpc;
    const victim = await createAdmin(server, 'owner');
    const v = await adminSession(server, victim);
    expect((await v.trpc.admin.admins.list.query()).items.length).toBeGreaterThan(0);
    await owner.admin.admins.setRole.mutate({ adminId: victim.id, role: 'viewer' });
    expect(errorCode(await fail(v.trpc.admin.admins.list.query()))).toBe('FORBIDDEN');
    expect((await v.trpc.admin.me.query()).role).toBe('viewer');
    await owner.admin.admins.setDisabled.mutate({ adminId: victim.id, disabled: true });
    expect(errorCode(await fail(v.trpc.admin.me.query()))).toBe('UNAUTHORIZED');
    const again = await fail(anon().admin.auth.login.mutate({ email: victim.email, password: victim.password }));
    expect(errorCode(again)).toBe('FORBIDDEN');
    await owner.admin.admins.setDisabled.mutate({ adminId: victim.id, disabled: false });
    expect((await adminSession(server, victim)).session.admin.role).toBe('viewer');
  });

  it('owners manage admins but not themselves; bad input is a 400 that creates nothing', async () => {
    const me = await createAdmin(server, 'owner');
    const { trpc } = await adminSession(server, me);
    expect(errorCode(await fail(trpc.admin.admins.setRole.mutate({ adminId: me.id, role: 'viewer' })))).toBe(
      'FORBIDDEN',
    );
    expect(errorCode(await fail(trpc.admin.admins.setDisabled.mutate({ adminId: me.id, disabled: true })))).toBe(
      'FORBIDDEN',
    );
    const email = `new-${randomBytes(4).toString('hex')}@Example.test`;
    const short = await fail(trpc.admin.admins.create.mutate({ email, password: 'short', role: 'viewer' }));
    expect(errorCode(short)).toBe('VALIDATION_FAILED');
    const badRole = await fail(
      trpc.admin.admins.create.mutate({ email, password: 'long enough password', role: 'root' as never }),
    );
    expect(errorCode(badRole)).toBe('VALIDATION_FAILED');
    expect((await trpc.admin.admins.list.query()).items.some((a) => a.email === email.toLowerCase())).toBe(false);
    const { id } = await trpc.admin.admins.create.mutate({ email, password: 'long enough password', role: 'operator' });
    const dup = await fail(
      trpc.admin.admins.create.mutate({ email: email.toLowerCase(), password: 'long enough password', role: 'viewer' }),
    );
    expect(errorCode(dup)).toBe('CONFLICT');
    const listed = (await trpc.admin.admins.list.query()).items.find((a) => a.id === id);
    expect(listed).toMatchObject({ email: email.toLowerCase(), role: 'operator', disabled: false, locked: false });
    const made = await adminSession(server, {
      id,
      email,
      password: 'long enough password',
      role: 'operator',
    });
    expect(made.session.admin.role).toBe('operator');
    const audit = await trpc.admin.audit.list.query({ action: 'admin.create', targetId: id });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ actorType: 'admin', actorId: me.id, actorEmail: me.email });
  });
});

describe('admin sign-in: per-IP limit', () => {
  let { server } = {} as ServerContext;
  useServer({ RATE_LIMIT_ADMIN_LOGIN_IP: '3/60' }, (c) => ({ server } = c));

  it('answers RATE_LIMITED past the per-IP budget of failures, whichever accounts are tried; successes do not count', async () => {
    const ip = randomIp();
    const t = trpcAs(server, () => null, ip);
    const ok = await createAdmin(server, 'viewer');
    // Every admin signs in through the console's one address: successful sign-ins spend nothing.
    for (let i = 0; i < 5; i++) await t.admin.auth.login.mutate({ email: ok.email, password: ok.password });
    for (let i = 0; i < 3; i++) {
      const e = await fail(t.admin.auth.login.mutate({ email: `x${i}@example.test`, password: 'guess' }));
      expect(errorCode(e)).toBe('INVALID_CREDENTIALS');
    }
    const a = await createAdmin(server, 'viewer');
    expect(errorCode(await fail(t.admin.auth.login.mutate({ email: a.email, password: a.password })))).toBe(
      'RATE_LIMITED',
    );
    // Another address is not affected.
    const other = trpcAs(server, () => null, randomIp());
    expect((await other.admin.auth.login.mutate({ email: a.email, password: a.password })).admin.id).toBe(a.id);
  });
});

describe('first run: an initial owner', () => {
  const base = inject('databaseUrl');
  const name = `st_first_${randomBytes(4).toString('hex')}`;
  const url = Object.assign(new URL(base), { pathname: `/${name}` }).toString();
  const admin = new pg.Client({ connectionString: base });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('is created on an empty admins table, its password in DATA_DIR (0600) and never in the log', async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const { server, text } = await startTestServerWithLogs({ DATABASE_URL: url });
    try {
      const file = join(server.config.dataDir, 'admin-initial-password.txt');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const password = (await readFile(file, 'utf8')).trim();
      expect(password.length).toBeGreaterThanOrEqual(20);
      const log = text();
      expect(log).toContain('admin-initial-password.txt');
      expect(log).not.toContain(password);
      const t = trpcAs(server, () => null);
      const s = await t.admin.auth.login.mutate({ email: 'admin@snaptalker.local', password });
      expect(s.admin.role).toBe('owner');

      // A second node on the same database creates nothing more.
      const second = await startServer(loadConfig(await testEnv({ DATABASE_URL: url })));
      try {
        await expect(stat(join(second.config.dataDir, 'admin-initial-password.txt'))).rejects.toThrow();
        const owners = (await trpcAs(second, () => s.accessToken).admin.admins.list.query()).items;
        expect(owners).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      await server.close();
    }
  });
});
