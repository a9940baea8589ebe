import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diffSchemas, isEmptyMigration } from './diff.js';
import { migrate } from './migrate.js';
import { migrationsDir, schemaPath } from './paths.js';

const DEFAULT_URL = 'postgresql://postgres@127.0.0.1:5432/snaptalker';
const url = process.env.DATABASE_URL ?? DEFAULT_URL;
const [command, name] = process.argv.slice(2);

async function latestSnapshot(): Promise<string | null> {
  const dirs = (await readdir(migrationsDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const last = dirs.at(-1);
  return last ? readFile(join(migrationsDir, last, 'schema.prisma'), 'utf8') : null;
}

async function main(): Promise<void> {
  if (command === 'migrate') {
    const applied = await migrate(url, { log: (l) => console.log(l) });
    console.log(applied.length ? `${applied.length} migration(s) applied` : 'database is up to date');
    return;
  }
  if (command === 'diff') {
    if (!name || !/^[a-z0-9_]+$/.test(name)) throw new Error('usage: db:diff <name> (lowercase, digits, _)');
    const current = await readFile(schemaPath, 'utf8');
    const sql = await diffSchemas(url, await latestSnapshot(), current);
    if (isEmptyMigration(sql)) {
      console.log('schema.prisma matches the last migration: nothing to write');
      return;
    }
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const dir = join(migrationsDir, `${stamp}_${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'migration.sql'), sql);
    // The snapshot is the "from" side of the next diff: no live database introspection needed.
    await writeFile(join(dir, 'schema.prisma'), current);
    console.log(`wrote ${dir}/migration.sql`);
    return;
  }
  throw new Error('usage: tsx src/cli.ts migrate | diff <name>');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
