import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorCode } from '@snaptalker/sdk';
import { describe, expect, inject, it } from 'vitest';
import { trpcAs } from '../helpers/admin.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';

const run = promisify(execFile);

describe('pnpm admin:create', () => {
  let { server } = {} as ServerContext;
  useServer({}, (c) => ({ server } = c));

  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const r = await run('npx', ['tsx', '--conditions=@snaptalker/source', 'src/admin-create.ts', ...args], {
      env: {
        ...process.env,
        DATABASE_URL: inject('databaseUrl'),
        DATA_DIR: await mkdtemp(join(tmpdir(), 'st-cli-')),
        ARGON2_MEMORY_KIB: '1024',
        ARGON2_ITERATIONS: '1',
        ...env,
      },
      timeout: 60_000,
    }).then(
      (o) => ({ code: 0, ...o }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    return r;
  };

  it('creates an admin with a generated password shown once; a second create of that email fails; a weak password creates nothing', async () => {
    const email = `cli-${randomBytes(4).toString('hex')}@example.test`;
    const made = await cli(['--email', email, '--role', 'operator']);
    expect(made.code).toBe(0);
    const password = /password \(shown once\): (\S+)/.exec(made.stdout)?.[1];
    expect(password).toBeDefined();
    const s = await trpcAs(server, () => null).admin.auth.login.mutate({ email, password: password ?? '' });
    expect(s.admin.role).toBe('operator');

    const dup = await cli(['--email', email]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('exists');
    const weak = await cli(['--email', `y${email}`], { ADMIN_PASSWORD: 'short' });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('password');
    const refused = await trpcAs(server, () => null)
      .admin.auth.login.mutate({ email: `y${email}`, password: 'short' })
      .catch((e: unknown) => e);
    expect(errorCode(refused)).toBe('INVALID_CREDENTIALS');
  }, 120_000);
});
