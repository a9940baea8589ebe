import { randomBytes } from 'node:crypto';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import type { AdminRole } from '../../src/domain/admin.js';
import { AdminRepo } from '../../src/infra/db/repos/admin.repo.js';
import type { RunningServer } from '../../src/server.js';
import { Passwords } from '../../src/services/accounts/passwords.js';
import type { AppRouter } from '../../src/transports/trpc/root.js';

const passwords = new Passwords({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

export interface TestAdmin {
  id: string;
  email: string;
  password: string;
  role: AdminRole;
}

/** An admin written straight to the admins table (the owner-only create path is tested separately). */
export async function createAdmin(server: RunningServer, role: AdminRole): Promise<TestAdmin> {
  const email = `${role}-${randomBytes(5).toString('hex')}@example.test`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const id = await new AdminRepo(server.infra.db.prisma).createAdmin(email, await passwords.hash(password), role);
  if (!id) throw new Error('admin email collision');
  return { id, email, password, role };
}

/** A typed tRPC client over HTTP (how the console's server side calls the API) with `token` as bearer. */
export function trpcAs(server: RunningServer, token: () => string | null, ip?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${server.url}/trpc`,
        headers: () => {
          const t = token();
          return { ...(t ? { authorization: `Bearer ${t}` } : {}), ...(ip ? { 'x-forwarded-for': ip } : {}) };
        },
      }),
    ],
  });
}

/** Logs the admin in over tRPC; returns the session and a client carrying its access token. */
export async function adminSession(server: RunningServer, admin: TestAdmin) {
  const anon = trpcAs(server, () => null);
  const session = await anon.admin.auth.login.mutate({ email: admin.email, password: admin.password });
  return { session, trpc: trpcAs(server, () => session.accessToken) };
}
