import { createDatabase, type PrismaClient } from '@snaptalker/db';
import type { Logger } from 'pino';
import type { EmbeddedPostgres } from './embedded-postgres.js';
import { poolSql, type Sql } from './sql.js';

export interface Db {
  readonly backend: 'postgres' | 'pglite';
  readonly prisma: PrismaClient;
  /** Prepared statements on the same pool, for the message hot path. */
  readonly sql: Sql;
  /** Connection string (for the migration runner). */
  readonly url: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function openDb(opts: {
  url: string | undefined;
  dataDir: string;
  poolMax: number;
  log: Logger;
}): Promise<Db> {
  let embedded: EmbeddedPostgres | undefined;
  let url = opts.url;
  if (!url) {
    // Loaded only in embedded mode: a production node (DATABASE_URL set) never loads PGlite's wasm
    // Postgres (its module alone is ~40 MB resident).
    const { startEmbeddedPostgres } = await import('./embedded-postgres.js');
    embedded = await startEmbeddedPostgres(opts.dataDir);
    url = embedded.url;
  }
  const database = createDatabase({
    connectionString: url,
    // PGlite is a single backend: pglite-socket interleaves protocol messages of concurrent
    // connections (a Parse from one can replace another's unnamed statement), so the embedded
    // default uses exactly one connection and the pool queues callers. Never nest a query outside
    // a transaction's `tx` inside that transaction: with one connection it would wait forever.
    poolMax: embedded ? 1 : opts.poolMax,
    connectionTimeoutMs: 3_000,
    onPoolError: (err) => opts.log.warn({ err: err.message }, 'database connection lost'),
  });
  return {
    backend: embedded ? 'pglite' : 'postgres',
    prisma: database.prisma,
    sql: poolSql(database.pool),
    url,
    async ping() {
      await database.prisma.$queryRaw`SELECT 1`;
    },
    async close() {
      await database.close();
      await embedded?.stop();
    },
  };
}
