import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The parent pid of `pid` (field 4 of /proc/<pid>/stat). */
async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe('pnpm start (the README command)', () => {
  it('SIGTERM to pnpm: graceful shutdown of the API and the console, then exit 0 without an ELIFECYCLE error', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'st-start-'));
    const proc = spawn('npx', ['-y', 'pnpm@10.34.9', 'start'], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        HOST: '127.0.0.1',
        PORT: '0',
        GRPC_PORT: '0',
        ADMIN_PORT: '0',
        DATA_DIR: dataDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    try {
      const deadline = Date.now() + 120_000;
      while (!/SnapTalker API listening/.test(out) || !/admin console at http:\/\/127\.0\.0\.1:(\d+)/.test(out)) {
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`server did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const serverPid = Number(/"pid":(\d+).*SnapTalker API listening/.exec(out)?.[1]);
      // The script execs scripts/start.mjs (API + console), whose parent is pnpm itself (no shell in
      // between to die first).
      const startPid = await parentOf(serverPid);
      expect(await readFile(`/proc/${startPid}/cmdline`, 'utf8')).toContain('scripts/start.mjs');
      const pnpmPid = await parentOf(startPid);
      expect(await readFile(`/proc/${pnpmPid}/cmdline`, 'utf8')).toContain('pnpm');
      const consolePort = Number(/admin console at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
      const deadlineConsole = Date.now() + 60_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${consolePort}/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadlineConsole) throw new Error(`console did not answer /health:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      process.kill(pnpmPid, 'SIGTERM');
      expect(await exited, out).toBe(0);
      expect(out).toContain('shutting down');
      expect(out).not.toContain('ELIFECYCLE');
    } finally {
      proc.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
