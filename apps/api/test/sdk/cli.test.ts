import { execFile } from 'node:child_process';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { randomPhone, randomUsername } from '../helpers/api.js';
import { type ServerContext, useServer } from '../helpers/fixture.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../packages/sdk/bin/snaptalker.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('snaptalker CLI: two profiles end to end against a real server', () => {
  let { server, otp } = {} as ServerContext;
  useServer({}, (c) => ({ server, otp } = c));

  async function cli(configHome: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [bin, ...args],
        {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: configHome,
            XDG_CONFIG_HOME: configHome,
            SNAPTALKER_URL: server.url,
            ...env,
          },
          timeout: 30_000,
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          done({ code, stdout: stdout.trim(), stderr });
        },
      );
    });
  }

  async function signUp(home: string, profile: string): Promise<string> {
    const phone = randomPhone();
    const password = `${profile} cli password`;
    const reg = await cli(home, ['--profile', profile, 'register', '-u', randomUsername(), '-p', phone], {
      SNAPTALKER_PASSWORD: password,
    });
    expect(reg.code, reg.stderr).toBe(0);
    const verified = await cli(home, ['--profile', profile, 'verify', await otp.codeFor(phone)]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stderr).toContain('keys uploaded');
    expect(verified.stdout).toBe(reg.stdout); // the user id
    return verified.stdout;
  }

  it('register + verify (keys uploaded), send, receive --json decrypts and acks; exit codes for scripts', async () => {
    const home = await mkdtemp(join(tmpdir(), 'st-cli-'));
    const alice = await signUp(home, 'alice');
    const bob = await signUp(home, 'bob');
    expect((await cli(home, ['--profile', 'bob', 'whoami'])).stdout).toBe(bob);

    // State lives per profile under $XDG_CONFIG_HOME/snaptalker/<profile>, private to the user.
    expect((await readdir(join(home, 'snaptalker'))).sort()).toEqual(['alice', 'bob']);
    expect((await stat(join(home, 'snaptalker', 'bob', 'state.json'))).mode & 0o077).toBe(0);

    const status = await cli(home, ['--profile', 'bob', 'keys', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ userId: bob, deviceId: 1, uploaded: true, preKeyCount: 100 });

    const sent = await cli(home, ['--profile', 'alice', 'send', bob, 'hello', 'Bob,', 'from the terminal']);
    expect(sent.code, sent.stderr).toBe(0);
    const messageId = sent.stdout;
    expect(messageId).toMatch(/^[0-9a-f-]{36}$/);

    const got = await cli(home, ['--profile', 'bob', 'receive', '--json', '--timeout', '0.5']);
    expect(got.code, got.stderr).toBe(0);
    const lines = got.stdout.split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      expect.objectContaining({
        type: 'message',
        id: messageId,
        from: { userId: alice, deviceId: 1 },
        text: 'hello Bob, from the terminal',
      }),
    ]);
    // Acknowledged: a second receive gets nothing.
    const again = await cli(home, ['--profile', 'bob', 'receive', '--json', '--timeout', '0.2']);
    expect(again).toMatchObject({ code: 0, stdout: '' });

    // The reply travels on the session Bob's first message opened (a plain SignalMessage).
    expect((await cli(home, ['--profile', 'bob', 'send', alice, 'hi Alice'])).code).toBe(0);
    const reply = await cli(home, ['--profile', 'alice', 'receive', '--json', '--max-messages', '1']);
    expect(JSON.parse(reply.stdout)).toMatchObject({ text: 'hi Alice', from: { userId: bob } });

    // Exit codes: 1 usage, 2 server refused, 3 unreachable, 4 profile not ready.
    expect((await cli(home, ['--profile', 'alice', 'send', 'not-a-uuid', 'x'])).code).toBe(1);
    expect((await cli(home, ['--profile', 'alice', 'frobnicate'])).code).toBe(1);
    const nobody = await cli(home, ['--profile', 'alice', 'send', '00000000-0000-4000-8000-000000000000', 'x']);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('has no registered device');
    const offline = await cli(home, ['--profile', 'alice', '--server', 'http://127.0.0.1:1', 'devices']);
    expect(offline.code).toBe(3);
    expect(offline.stderr).toContain('cannot reach the server at http://127.0.0.1:1');
    expect((await cli(home, ['--profile', 'carol', 'receive'])).code).toBe(4);

    // Logout ends the device at once; the profile then needs `login` again.
    expect((await cli(home, ['--profile', 'bob', 'logout'])).code).toBe(0);
    const after = await cli(home, ['--profile', 'bob', 'devices']);
    expect(after.code).toBe(4);
    expect(after.stderr).toContain('not signed in');
  }, 120_000);

  it('link: a second profile joins the account with its identity key and receives too', async () => {
    const home = await mkdtemp(join(tmpdir(), 'st-cli-'));
    const alice = await signUp(home, 'alice');
    const bob = await signUp(home, 'bob');
    const linked = await cli(home, ['--profile', 'laptop', 'link', '--from', 'bob'], {
      SNAPTALKER_PASSWORD: 'bob cli password',
    });
    expect(linked.code, linked.stderr).toBe(0);
    expect(linked.stdout).toBe(bob);
    const devices = await cli(home, ['--profile', 'laptop', 'devices', '--json']);
    expect(JSON.parse(devices.stdout).devices.map((d: { deviceId: number }) => d.deviceId)).toEqual([1, 2]);

    const sent = await cli(home, ['--profile', 'alice', 'send', bob, 'to both of your devices']);
    expect(sent.stdout.split('\n')).toHaveLength(2);
    for (const profile of ['bob', 'laptop']) {
      const got = await cli(home, ['--profile', profile, 'receive', '--json', '--max-messages', '1']);
      expect(JSON.parse(got.stdout), got.stderr).toMatchObject({
        text: 'to both of your devices',
        from: { userId: alice },
      });
    }
  }, 120_000);
});
