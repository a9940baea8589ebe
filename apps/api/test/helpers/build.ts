import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** What `pnpm build` compiles, in dependency order: [package dir, its entry in dist/]. */
const builds: Array<[string, string]> = [
  ['packages/proto', 'dist/index.js'],
  ['packages/db', 'dist/src/index.js'],
  ['apps/api', 'dist/main.js'],
];

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function fresh(dir: string, entry: string): boolean {
  const generated = join(dir, 'generated');
  const sources = Math.max(newest(join(dir, 'src')), existsSync(generated) ? newest(generated) : 0);
  return existsSync(join(dir, entry)) && statSync(join(dir, entry)).mtimeMs > sources;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** A directory as a lock across Vitest workers; one older than 5 minutes is a crashed run's. */
function withLock(path: string, fn: () => void): void {
  for (;;) {
    try {
      mkdirSync(path);
      break;
    } catch {
      if (existsSync(path) && Date.now() - statSync(path).mtimeMs > 300_000)
        rmSync(path, { recursive: true, force: true });
      sleep(200);
    }
  }
  try {
    fn();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}

/**
 * Compiles the packages and the API to dist/ with tsc (as `pnpm build` does), unless dist/ is newer
 * than every source. Test files that need the compiled server call this; a lock keeps parallel
 * Vitest workers from compiling at once, and the second finds the first's output fresh.
 */
export function ensureBuilt(): void {
  if (builds.every(([pkg, entry]) => fresh(join(root, pkg), entry))) return;
  withLock(join(root, 'apps/api/.build.lock'), () => {
    for (const [pkg, entry] of builds) {
      const dir = join(root, pkg);
      if (fresh(dir, entry)) continue;
      const tsc = join(root, 'node_modules/typescript/bin/tsc');
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'pipe' });
    }
  });
}

export const apiDist = join(root, 'apps/api/dist');
