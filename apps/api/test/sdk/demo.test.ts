import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers/server.js';

const apiDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function runDemo(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const proc = spawn(process.execPath, ['--conditions=@snaptalker/source', '--import', 'tsx', 'scripts/demo.ts'], {
    cwd: apiDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => proc.on('exit', r));
  return { code, out };
}

/** A port free right now (the OS picks it; the listener is closed again). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

describe('pnpm demo (smoke)', () => {
  it('runs an encrypted conversation with receipts on the embedded server and exits 0', async () => {
    // An address nothing listens on: the demo must fall back to its embedded server.
    const { code, out } = await runDemo({ SNAPTALKER_URL: 'http://127.0.0.1:1' });
    expect(code, out).toBe(0);
    expect(out).toContain('started an embedded one');
    const dataDir = /\(data in ([^)]+)\)/.exec(out)?.[1];
    expect(dataDir).toBeTruthy();
    expect(existsSync(dataDir as string), 'the temporary data directory is removed').toBe(false);
    expect(out).toMatch(
      /bob ← alice: \d+ bytes of ciphertext decrypted to: "Hello Bob! This is end-to-end encrypted."/,
    );
    expect(out).toContain('alice: receipt "delivered"');
    expect(out).toContain('alice: receipt "read"');
    expect(out).toMatch(/alice ← bob: \d+ bytes of ciphertext decrypted to: "Hi Alice! Only we can read this."/);
    expect(out).toMatch(/alice → bob: 70-byte PNG as attachment \S+/);
    expect(out).toContain('bob: downloaded, digest and MAC verified, decrypted 70 bytes, identical: true');
    expect(out).toContain('a tampered copy is rejected');
  }, 60_000);

  it('works against a running server whose OTP_WEBHOOK_URL matches DEMO_OTP_PORT', async () => {
    const port = await freePort();
    const server = await startTestServer({ OTP_WEBHOOK_URL: `http://127.0.0.1:${port}/otp` });
    try {
      const { code, out } = await runDemo({ SNAPTALKER_URL: server.url, DEMO_OTP_PORT: String(port) });
      expect(code, out).toBe(0);
      expect(out).toContain(`using the server at ${server.url}`);
      expect(out).toContain('bob ← alice');
      expect(out).toContain('alice: receipt "read"');
    } finally {
      await server.close();
    }
  }, 60_000);
});
