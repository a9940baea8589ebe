import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const apiDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Sources through tsx, resolving workspace packages to their sources too (the dev condition). */
export const SOURCE_ARGS = ['--conditions=@snaptalker/source', '--import', 'tsx', 'src/main.ts'];
/** The production build, run the way `pnpm start` runs it: plain node, packages from their dist/. */
export const COMPILED_ARGS = ['dist/main.js'];

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Starts `src/main.ts` as its own process (or, with `args: COMPILED_ARGS`, the compiled `dist/main.js`
 * as `pnpm start` does), with exactly `env` plus PATH, and resolves once it logs its URL.
 */
export function spawnServer(
  env: Record<string, string>,
  timeoutMs = 45_000,
  args: string[] = SOURCE_ARGS,
): Promise<ServerProcess> {
  const proc = spawn(process.execPath, args, {
    cwd: apiDir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.once('exit', (code, signal) => res({ code, signal })),
  );
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(https?:\/\/[^"]+)".*SnapTalker API listening/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolveStart({ proc, url: m[1], output: () => out, exited, kill: (s = 'SIGTERM') => proc.kill(s) });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before starting:\n${out}`));
    });
  });
}

/** Runs main.ts to completion (for start-up failures); resolves with exit code and output. */
export function runServerToExit(
  env: Record<string, string>,
  args: string[] = SOURCE_ARGS,
): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, args, {
    cwd: apiDir,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((res) => proc.once('exit', (code) => res({ code, output })));
}
