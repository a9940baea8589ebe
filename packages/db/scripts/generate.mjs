// Runs `prisma generate` without the network: generate never uses the schema engine, but the CLI
// insists on locating one, so point it at any existing file.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const schema = resolve(here, '../../../prisma/schema.prisma');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
const r = spawnSync('prisma', ['generate', '--schema', schema], {
  stdio: 'inherit',
  env,
  cwd: resolve(here, '..'),
  shell: process.platform === 'win32',
});
process.exit(r.status ?? 1);
