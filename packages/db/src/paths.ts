import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository's `prisma/` folder, found by walking up from this module: the same lookup works
 * from `src/` (tsx, Vitest) and from the compiled `dist/src/` (node), in a checkout or an image.
 */
function findPrismaDir(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'prisma', 'schema.prisma'))) return join(dir, 'prisma');
    if (dirname(dir) === dir) throw new Error(`prisma/schema.prisma not found above ${start}`);
  }
}

export const prismaDir = resolve(findPrismaDir());
export const schemaPath = resolve(prismaDir, 'schema.prisma');
export const migrationsDir = resolve(prismaDir, 'migrations');
