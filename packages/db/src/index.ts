export { createDatabase, type Database, type DatabaseOptions } from './client.js';
export { migrate, loadMigrationList, type MigrateOptions } from './migrate.js';
export { diffSchemas, isEmptyMigration } from './diff.js';
export { schemaPath, migrationsDir } from './paths.js';
export * from '../generated/prisma/client.js';
