import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * PGlite (Postgres compiled to wasm) served on a loopback port, so the embedded default runs the very
 * same `pg` + Prisma code path as a real PostgreSQL server. Data persists under `<dataDir>/pglite`.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const dir = join(dataDir, 'pglite');
  await mkdir(dir, { recursive: true });
  if (!existsSync(join(dir, 'PG_VERSION'))) await initInChildProcess(dir);
  const db = await PGlite.create(dir, {
    // PostgreSQL's default 128 MB of shared buffers is ~100 MB of resident wasm memory; a development
    // database needs far less.
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`],
  });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 32 });
  await server.start();
  const conn = server.getServerConn();
  return {
    url: `postgresql://postgres@${conn}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

const SHARED_BUFFERS = '32MB';

/**
 * initdb runs a second wasm Postgres and copies its data directory through memory: ~850 MB resident at
 * its peak, and the process keeps most of it afterwards. Done in a short-lived child process instead,
 * the server itself only ever opens an existing data directory.
 */
async function initInChildProcess(dir: string): Promise<void> {
  const script =
    'const { PGlite } = await import(process.argv[1]); const db = await PGlite.create(process.argv[2]); await db.close();';
  await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script, import.meta.resolve('@electric-sql/pglite'), dir],
    { timeout: 120_000 },
  );
}
