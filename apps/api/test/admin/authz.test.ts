import { errorCode } from '@snaptalker/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AdminRole } from '../../src/domain/admin.js';
import { adminSession, createAdmin, type TestAdmin, type trpcAs } from '../helpers/admin.js';
import { createUser, linkDevice, type TestUser } from '../helpers/api.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';
import { adminRouter } from '../../src/transports/trpc/routers/admin.js';

type Trpc = ReturnType<typeof trpcAs>;

/**
 * The authorization matrix of the admin router: every role against every procedure. The expected
 * minimum roles are written here from the contract (viewer: reads; operator: + acting on users and
 * revealing phones; owner: + managing admins), not read from the implementation's table. A refused
 * call must answer FORBIDDEN and change nothing.
 */
describe('admin router authorization: each role × each action', () => {
  let { server, otp, api, db } = {} as ServerContext;
  useServer({}, (c) => ({ server, otp, api, db } = c));

  const clients = {} as Record<AdminRole, Trpc>;
  let owner: Trpc;
  beforeAll(async () => {
    for (const role of ['viewer', 'operator', 'owner'] as const) {
      clients[role] = (await adminSession(server, await createAdmin(server, role))).trpc;
    }
    owner = clients.owner;
  });

  const meWorks = async (u: TestUser) => (await api.get('/me', { token: u.accessToken })).status === 200;
  const auditRows = async (action: string, target: string) =>
    Number(
      (await db.query('SELECT count(*) AS n FROM audit_log WHERE action = $1 AND target_id = $2', [action, target]))
        .rows[0].n,
    );

  interface Case {
    min: AdminRole;
    /** Sets up a fresh target, calls the procedure, and returns a check of whether it took effect. */
    run: (t: Trpc) => Promise<() => Promise<boolean>>;
  }

  const read =
    (call: (t: Trpc) => Promise<unknown>): Case['run'] =>
    async (t) => {
      await call(t);
      return async () => true;
    };

  const cases: Record<string, Case> = {
    me: { min: 'viewer', run: read((t) => t.admin.me.query()) },
    dashboard: { min: 'viewer', run: read((t) => t.admin.dashboard.query()) },
    'users.search': { min: 'viewer', run: read((t) => t.admin.users.search.query({ q: 'u_' })) },
    'users.get': {
      min: 'viewer',
      run: async (t) => {
        const u = await createUser(api, otp);
        await t.admin.users.get.query({ userId: u.userId });
        return async () => true;
      },
    },
    'keys.low': { min: 'viewer', run: read((t) => t.admin.keys.low.query({})) },
    'keys.identityChanges': { min: 'viewer', run: read((t) => t.admin.keys.identityChanges.query({})) },
    'calls.active': { min: 'viewer', run: read((t) => t.admin.calls.active.query()) },
    'calls.recent': { min: 'viewer', run: read((t) => t.admin.calls.recent.query({})) },
    'audit.list': { min: 'viewer', run: read((t) => t.admin.audit.list.query({})) },
    'users.revealPhone': {
      min: 'operator',
      run: async (t) => {
        const u = await createUser(api, otp);
        const r = await t.admin.users.revealPhone.mutate({ userId: u.userId });
        expect(r.phone).toBe(u.phone);
        return async () => (await auditRows('user.phone_revealed', u.userId)) === 1;
      },
    },
    'users.ban': {
      min: 'operator',
      run: async (t) => {
        const u = await createUser(api, otp);
        const check = async () => !(await meWorks(u));
        try {
          await t.admin.users.ban.mutate({ userId: u.userId });
        } catch (e) {
          // Refused: the user is untouched (checked by the caller through `check`).
          (e as { check?: unknown }).check = check;
          throw e;
        }
        return check;
      },
    },
    'users.unban': {
      min: 'operator',
      run: async (t) => {
        const u = await createUser(api, otp);
        await owner.admin.users.ban.mutate({ userId: u.userId });
        const check = async () =>
          !(await db.query('SELECT banned FROM users WHERE id = $1', [u.userId])).rows[0].banned;
        try {
          await t.admin.users.unban.mutate({ userId: u.userId });
        } catch (e) {
          (e as { check?: unknown }).check = check;
          throw e;
        }
        return check;
      },
    },
    'users.revokeSessions': {
      min: 'operator',
      run: async (t) => {
        const u = await createUser(api, otp);
        const check = async () => !(await meWorks(u));
        try {
          const r = await t.admin.users.revokeSessions.mutate({ userId: u.userId });
          expect(r.devices).toBe(1);
        } catch (e) {
          (e as { check?: unknown }).check = check;
          throw e;
        }
        return check;
      },
    },
    'users.unlinkDevice': {
      min: 'operator',
      run: async (t) => {
        const u = await createUser(api, otp);
        const second = await linkDevice(api, u, 'tablet');
        const check = async () =>
          (await db.query('SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2', [u.userId, second.deviceId]))
            .rowCount === 0;
        try {
          await t.admin.users.unlinkDevice.mutate({ userId: u.userId, deviceId: second.deviceId });
        } catch (e) {
          (e as { check?: unknown }).check = check;
          throw e;
        }
        return check;
      },
    },
    'admins.list': { min: 'owner', run: read((t) => t.admin.admins.list.query()) },
    'admins.create': {
      min: 'owner',
      run: async (t) => {
        const email = `made-${Math.random().toString(36).slice(2)}@example.test`;
        const check = async () => (await db.query('SELECT 1 FROM admins WHERE email = $1', [email])).rowCount === 1;
        try {
          await t.admin.admins.create.mutate({ email, password: 'a long enough password', role: 'viewer' });
        } catch (e) {
          (e as { check?: unknown }).check = check;
          throw e;
        }
        return check;
      },
    },
    'admins.setRole': {
      min: 'owner',
      run: async (t) => {
        const target = await createAdmin(server, 'viewer');
        const check = async () =>
          (await db.query('SELECT role::text FROM admins WHERE id = $1', [target.id])).rows[0].role === 'operator';
        try {
          await t.admin.admins.setRole.mutate({ adminId: target.id, role: 'operator' });
        } catch (e) {
          (e as { check?: unknown }).check = check;
          throw e;
        }
        return check;
      },
    },
    'admins.setDisabled': {
      min: 'owner',
      run: async (t) => {
        const target: TestAdmin = await createAdmin(server, 'viewer');
        const check = async () =>
          (await db.query('SELECT disabled FROM admins WHERE id = $1', [target.id])).rows[0].disabled === true;
        try {
          await t.admin.admins.setDisabled.mutate({ adminId: target.id, disabled: true });
        } catch (e) {
          (e as { check?: unknown }).check = check;
          throw e;
        }
        return check;
      },
    },
  };

  const rank = { viewer: 0, operator: 1, owner: 2 } as const;
  for (const role of ['viewer', 'operator', 'owner'] as const) {
    for (const [action, c] of Object.entries(cases)) {
      const allowed = rank[role] >= rank[c.min];
      it(`${role} ${allowed ? 'may' : 'may not'} ${action}`, async () => {
        if (allowed) {
          const tookEffect = await c.run(clients[role]);
          expect(await tookEffect()).toBe(true);
          return;
        }
        const err = await c.run(clients[role]).then(
          () => null,
          (e: unknown) => e,
        );
        expect(errorCode(err), `${role} ${action}`).toBe('FORBIDDEN');
        const check = (err as { check?: () => Promise<boolean> }).check;
        if (check) expect(await check(), 'a refused call changed nothing').toBe(false);
      });
    }
  }

  it('every procedure of the admin router is in the matrix (a new one must be added here)', () => {
    // Sign-in needs no admin yet and logout is for every role: the rest must all be covered above.
    const procedures = Object.keys(adminRouter._def.procedures).filter((p) => !p.startsWith('auth.'));
    expect(procedures.sort()).toEqual(Object.keys(cases).sort());
  });
});
