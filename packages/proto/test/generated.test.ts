import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const pkg = join(import.meta.dirname, '..');
const committed = join(pkg, 'src/gen');

async function files(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out.set(relative(dir, path), await readFile(path, 'utf8'));
  }
  return out;
}

let tmp: string | undefined;
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// src/gen is committed so type checks never depend on a generate step; this keeps it honest.
it('src/gen is exactly what `buf generate` produces from the .proto files', async () => {
  tmp = await mkdtemp(join(tmpdir(), 'st-proto-'));
  await promisify(execFile)(join(pkg, 'node_modules/.bin/buf'), ['generate', '--output', tmp], { cwd: pkg });
  const fresh = await files(join(tmp, 'src/gen'));
  const current = await files(committed);
  expect([...current.keys()].sort(), 'run `pnpm --filter @snaptalker/proto generate`').toEqual(
    [...fresh.keys()].sort(),
  );
  for (const [name, text] of fresh) expect(current.get(name), `${name} is stale: run generate`).toBe(text);
});
