import { noFilters, openSchemaEngine } from './engine.js';

/**
 * SQL that takes a database from `from` (a Prisma schema, or null for empty) to `to`.
 * Works offline and without introspecting a live database (which adapter-pg cannot do yet), so the
 * "previous" side is the schema snapshot stored with the last migration.
 */
export async function diffSchemas(connectionString: string, from: string | null, to: string): Promise<string> {
  const file = (content: string) => ({ files: [{ path: 'schema.prisma', content }] });
  const handle = await openSchemaEngine(connectionString, { path: 'schema.prisma', content: to });
  try {
    const result = await handle.engine.diff({
      from: from === null ? { tag: 'empty' } : { tag: 'schemaDatamodel', ...file(from) },
      to: { tag: 'schemaDatamodel', ...file(to) },
      script: true,
      exitCode: null,
      filters: noFilters,
    });
    return result.stdout ?? '';
  } finally {
    await handle.close();
  }
}

/** True when a diff script holds no statement (only comments and blank lines). */
export function isEmptyMigration(sql: string): boolean {
  return sql
    .split('\n')
    .map((l) => l.trim())
    .every((l) => l === '' || l.startsWith('--'));
}
