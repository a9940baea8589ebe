/**
 * `pnpm admin:create --email ops@example.com [--role owner|operator|viewer]`: creates a console
 * admin directly in the database (the first one, or a way back in when every owner is locked out).
 * The password comes from ADMIN_PASSWORD, or is generated and printed once on stdout. Same config
 * as the server (DATABASE_URL, DATA_DIR, ARGON2_*); migrations are applied first.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { migrate } from '@snaptalker/db';
import { ConfigError, loadConfig } from './config/index.js';
import { ADMIN_ROLES, type AdminRole } from './domain/admin.js';
import { AdminRepo } from './infra/db/repos/admin.repo.js';
import { openDb } from './infra/db/db.js';
import { createLogger } from './observability/logger.js';
import { Passwords } from './services/accounts/passwords.js';
import { createAdminInput } from './services/admin/admin.schemas.js';

function die(message: string): never {
  process.stderr.write(`admin:create: ${message}\n`);
  process.exit(1);
}

const { values } = parseArgs({
  options: { email: { type: 'string' }, role: { type: 'string', default: 'owner' } },
  strict: true,
});
if (!values.email) die('usage: admin:create --email <address> [--role owner|operator|viewer]');
if (!ADMIN_ROLES.includes(values.role as AdminRole)) die(`--role must be one of ${ADMIN_ROLES.join(', ')}`);

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (e) {
  die(e instanceof ConfigError ? e.message : String(e));
}

const generated = !process.env.ADMIN_PASSWORD;
const password = process.env.ADMIN_PASSWORD ?? randomBytes(18).toString('base64url');
const input = createAdminInput.safeParse({ email: values.email, password, role: values.role });
if (!input.success) die(input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));

if (!config.DATABASE_URL) {
  // The embedded database is opened by one process at a time: a running server holds it.
  const running = await fetch(`http://127.0.0.1:${config.PORT}/health`, { signal: AbortSignal.timeout(1_000) }).then(
    () => true,
    () => false,
  );
  if (running) die('the server is running on the embedded database: stop it first, or use the console’s Admins page');
}

const log = createLogger('warn');
const db = await openDb({ url: config.DATABASE_URL, dataDir: config.dataDir, poolMax: 2, log });
try {
  await migrate(db.url, { log: () => {} });
  const passwords = new Passwords({
    memoryCost: config.ARGON2_MEMORY_KIB,
    timeCost: config.ARGON2_ITERATIONS,
    parallelism: config.ARGON2_PARALLELISM,
  });
  const repo = new AdminRepo(db.prisma);
  const { email, role } = input.data;
  const id = await repo.createAdmin(email, await passwords.hash(input.data.password), role);
  if (!id) die(`an admin with the email ${email} exists`);
  await repo.audit({
    actorType: 'system',
    actorId: null,
    action: 'admin.create',
    targetType: 'admin',
    targetId: id,
    details: { email, role, via: 'cli' },
  });
  process.stdout.write(`created ${role} ${email}\n`);
  if (generated) process.stdout.write(`password (shown once): ${input.data.password}\n`);
} finally {
  await db.close();
}
