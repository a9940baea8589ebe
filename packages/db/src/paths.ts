import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const prismaDir = resolve(here, '../../../prisma');
export const schemaPath = resolve(prismaDir, 'schema.prisma');
export const migrationsDir = resolve(prismaDir, 'migrations');
