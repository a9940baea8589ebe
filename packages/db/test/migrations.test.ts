import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { diffSchemas, isEmptyMigration, migrate, schemaPath } from '../src/index.js';
import { createDatabase } from './pg-admin.js';

function dumpSchema(url: string): string {
  const out = execFileSync('pg_dump', ['--schema-only', '--no-owner', '-T', '_prisma_migrations', url], {
    encoding: 'utf8',
  });
  // pg_dump adds random \restrict tokens and version banners; neither is schema.
  return out
    .split('\n')
    .filter((l) => !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict') && !l.startsWith('-- Dumped'))
    .join('\n');
}

describe('migrations', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('applied to an empty database yield exactly schema.prisma', async () => {
    const viaMigrations = await createDatabase('st_mig');
    const viaSchema = await createDatabase('st_sch');
    cleanups.push(viaMigrations.drop, viaSchema.drop);

    const applied = await migrate(viaMigrations.url);
    expect(applied.length).toBeGreaterThan(0);

    const sql = await diffSchemas(viaSchema.url, null, await readFile(schemaPath, 'utf8'));
    const c = new pg.Client({ connectionString: viaSchema.url });
    await c.connect();
    await c.query(sql);
    await c.end();

    const a = dumpSchema(viaMigrations.url);
    expect(a).toContain('CREATE TABLE public.messages');
    expect(a).toBe(dumpSchema(viaSchema.url));
  });

  it('a second run applies nothing, and two concurrent runs apply each migration once', async () => {
    const db = await createDatabase('st_conc');
    cleanups.push(db.drop);
    const [a, b] = await Promise.all([migrate(db.url), migrate(db.url)]);
    expect([...a, ...b].sort()).toEqual([...(a.length ? a : b)].sort());
    expect(a.length === 0 || b.length === 0).toBe(true);
    expect(await migrate(db.url)).toEqual([]);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const rows = await c.query('SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL');
    await c.end();
    expect(rows.rows[0].n).toBe([...a, ...b].length);
  });

  it('the last migration snapshot equals schema.prisma (no un-migrated schema change)', async () => {
    const db = await createDatabase('st_diff');
    cleanups.push(db.drop);
    const { loadMigrationList } = await import('../src/migrate.js');
    const list = await loadMigrationList();
    const last = list.migrationDirectories.at(-1);
    expect(last).toBeDefined();
    const snapshot = await readFile(`${list.baseDir}/${last?.path}/schema.prisma`, 'utf8');
    const sql = await diffSchemas(db.url, snapshot, await readFile(schemaPath, 'utf8'));
    expect(isEmptyMigration(sql), `schema.prisma changed without a migration (run pnpm db:diff <name>):\n${sql}`).toBe(
      true,
    );
  });
});
