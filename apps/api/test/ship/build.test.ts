import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { apiDist, ensureBuilt } from '../helpers/build.js';
import { COMPILED_ARGS, runServerToExit, type ServerProcess, spawnServer } from '../helpers/process.js';

const denyPglite = fileURLToPath(new URL('../fixtures/deny-pglite.mjs', import.meta.url));
const started: ServerProcess[] = [];

beforeAll(() => ensureBuilt(), 180_000);
afterAll(() => {
  for (const s of started) s.kill('SIGKILL');
});

describe('production build', () => {
  it('`pnpm start` runs the compiled JavaScript with plain node', () => {
    const pkg = JSON.parse(readFileSync(join(apiDist, '../package.json'), 'utf8'));
    // exec: the shell pnpm runs the script in is replaced by node, so signals reach the server directly.
    // Plain node, V8 flags allowed (the young-generation size, docs/operations.md), no loader.
    expect(pkg.scripts.start).toMatch(/^(exec )?node( --[a-z-]+=\d+)* dist\/main\.js$/);
    expect(pkg.scripts.dev).toMatch(/^tsx /);
    const main = readFileSync(join(apiDist, 'main.js'), 'utf8');
    expect(main).not.toMatch(/: (Config|Logger)\b/); // JavaScript, not TypeScript
  });

  it('a production start (DATABASE_URL set) never loads PGlite, and serves from dist/', async () => {
    const s = await spawnServer(
      {
        DATABASE_URL: inject('databaseUrl'),
        REDIS_URL: inject('redisUrl'),
        JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: '0',
        GRPC_PORT: '0',
      },
      45_000,
      ['--import', denyPglite, ...COMPILED_ARGS],
    );
    started.push(s);
    const ready = (await (await fetch(`${s.url}/ready`)).json()) as { checks: Record<string, { backend: string }> };
    expect(ready.checks.database?.backend).toBe('postgres');
    expect(s.output()).not.toContain('PGlite was loaded');
    s.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  });

  it('the guard above is real: the embedded default under the same guard fails to start', async () => {
    const { code, output } = await runServerToExit(
      { PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', DATA_DIR: await mkdtemp(join(tmpdir(), 'st-deny-')) },
      ['--import', denyPglite, ...COMPILED_ARGS],
    );
    expect(code).toBe(1);
    expect(output).toContain('PGlite was loaded');
  });
});
