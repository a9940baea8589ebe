import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { MigrationList } from '@prisma/schema-engine-wasm';
import { noFilters, openSchemaEngine } from './engine.js';
import { migrationsDir as defaultMigrationsDir, schemaPath } from './paths.js';

// Arbitrary but fixed: every API node takes the same lock, so only one applies migrations.
const MIGRATION_LOCK_KEY = 7_281_903_114;

export async function loadMigrationList(dir = defaultMigrationsDir): Promise<MigrationList> {
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const lockPath = join(dir, 'migration_lock.toml');
  const lockContent = await readFile(lockPath, 'utf8').catch(() => null);
  return {
    baseDir: dir,
    lockfile: { path: 'migration_lock.toml', content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(
      entries.map(async (name) => {
        const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8')
          .then((value) => ({ tag: 'ok' as const, value }))
          .catch((err: Error) => ({ tag: 'error' as const, value: err.message }));
        return { path: name, migrationFile: { path: 'migration.sql', content: sql } };
      }),
    ),
  };
}

export interface MigrateOptions {
  migrationsDir?: string;
  log?: (line: string) => void;
}

/**
 * Applies pending migrations under a Postgres advisory lock, so several nodes starting together
 * against one empty database apply each migration once; the others wait, then find nothing to do.
 */
export async function migrate(connectionString: string, opts: MigrateOptions = {}): Promise<string[]> {
  const lockClient = new pg.Client({ connectionString });
  await lockClient.connect();
  try {
    await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const schema = { path: schemaPath, content: await readFile(schemaPath, 'utf8') };
    const handle = await openSchemaEngine(connectionString, schema);
    try {
      const out = await handle.engine.applyMigrations({
        migrationsList: await loadMigrationList(opts.migrationsDir),
        filters: noFilters,
      });
      for (const name of out.appliedMigrationNames) opts.log?.(`applied migration ${name}`);
      return out.appliedMigrationNames;
    } finally {
      await handle.close();
    }
  } finally {
    await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    await lockClient.end();
  }
}
