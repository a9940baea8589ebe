import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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

/**
 * Compiles the packages and the API to dist/ with tsc (as `pnpm build` does), unless dist/ is newer
 * than every source. Test files that need the compiled server call this; `flock` keeps parallel
 * Vitest workers from compiling the same package at once.
 */
export function ensureBuilt(): void {
  for (const [pkg, entry] of builds) {
    const dir = join(root, pkg);
    const sources = Math.max(
      newest(join(dir, 'src')),
      ...(existsSync(join(dir, 'generated')) ? [newest(join(dir, 'generated'))] : []),
    );
    if (existsSync(join(dir, entry)) && statSync(join(dir, entry)).mtimeMs > sources) continue;
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    execFileSync('flock', [join(dir, '.build.lock'), process.execPath, tsc, '-p', 'tsconfig.build.json'], {
      cwd: dir,
      stdio: 'pipe',
    });
  }
}

export const apiDist = join(root, 'apps/api/dist');
