import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const apiDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('pnpm demo (smoke)', () => {
  it('runs an encrypted conversation with receipts on the embedded server and exits 0', async () => {
    const proc = spawn(process.execPath, ['--conditions=@snaptalker/source', '--import', 'tsx', 'scripts/demo.ts'], {
      cwd: apiDir,
      // An address nothing listens on: the demo must fall back to its embedded server.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', SNAPTALKER_URL: 'http://127.0.0.1:1' },
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => proc.on('exit', r));
    expect(code, out).toBe(0);
    expect(out).toContain('started an embedded one');
    expect(out).toMatch(
      /bob ← alice: \d+ bytes of ciphertext decrypted to: "Hello Bob! This is end-to-end encrypted."/,
    );
    expect(out).toContain('alice: receipt "delivered"');
    expect(out).toContain('alice: receipt "read"');
    expect(out).toMatch(/alice ← bob: \d+ bytes of ciphertext decrypted to: "Hi Alice! Only we can read this."/);
  }, 60_000);
});
