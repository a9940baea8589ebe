import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '@snaptalker/db';
import { stopRunCluster } from './helpers/ceph-rgw.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
    redisUrl: string;
    /** Where the run's shared services (the Ceph S3 cluster) record themselves. */
    runDir: string;
  }
}

const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * One fresh, migrated PostgreSQL database per test run, dropped afterwards; and a run directory for
 * services started lazily by the suites that need them (stopped here at the end).
 */
export default async function setup(project: TestProject) {
  const name = `st_test_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  project.provide('databaseUrl', url.toString());
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('redisUrl', redisUrl);
  const runDir = await mkdtemp(join(tmpdir(), 'st-run-'));
  project.provide('runDir', runDir);
  return async () => {
    await stopRunCluster(runDir);
    await rm(runDir, { recursive: true, force: true });
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.end();
  };
}
