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

/**
 * An array parameter as PostgreSQL's array literal, for elements that need no escaping: numbers,
 * UUIDs, enum words (null → NULL). node-postgres would quote and regex-escape every element of a
 * JS array; on the send path that was a per-envelope cost for values known to be plain.
 */
export function plainArray(values: ReadonlyArray<string | number | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out += (i ? ',' : '') + (v === null || v === undefined ? 'NULL' : v);
  }
  return `${out}}`;
}

/**
 * The same for text elements that hold no quote or backslash (base64): each is quoted — "NULL"
 * is valid base64 and would read as a null unquoted — and refused if it breaks that promise.
 */
export function quotedArray(values: ReadonlyArray<string | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) out += i ? ',NULL' : 'NULL';
    else {
      if (v.includes('"') || v.includes('\\')) throw new Error('quotedArray: element needs escaping');
      out += `${i ? ',"' : '"'}${v}"`;
    }
  }
  return `${out}}`;
}
