import type pg from 'pg';

/**
 * Hand-written SQL for the hot paths (message store, ack, queue read): each call is one named
 * prepared statement on the pool under Prisma. Parsed and planned once per connection, then one
 * round trip per call with no query-compiler work — Prisma stays for everything else.
 */
export interface Sql {
  query<R>(name: string, text: string, values: unknown[]): Promise<R[]>;
}

export function poolSql(pool: pg.Pool): Sql {
  return {
    async query<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
      const r = await pool.query({ name, text, values });
      return r.rows as R[];
    },
  };
}
