import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';

export interface DatabaseOptions {
  connectionString: string;
  poolMax?: number;
  connectionTimeoutMs?: number;
  /** Errors of idle pooled connections (e.g. the server went away); without a listener they crash the process. */
  onPoolError?: (err: Error) => void;
}

export interface Database {
  prisma: PrismaClient;
  /**
   * The pool under Prisma, for the few hot paths that run hand-written SQL as named prepared
   * statements (one round trip, no query-compiler work per call). Everything else goes through Prisma.
   */
  pool: pg.Pool;
  close(): Promise<void>;
}

export function createDatabase(opts: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.poolMax ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 5_000,
  });
  pool.on('error', (err) => opts.onPoolError?.(err));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    pool,
    async close() {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}
