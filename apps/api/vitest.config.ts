import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Workspace packages run from their TypeScript sources in tests (as under `tsx --conditions=
    // @snaptalker/source`), so a test run never needs a build; plain node gets their compiled dist/.
    alias: [
      { find: /^@snaptalker\/db$/, replacement: source('../../packages/db/src/index.ts') },
      { find: /^@snaptalker\/proto$/, replacement: source('../../packages/proto/src/index.ts') },
    ],
  },
  test: {
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files share one PostgreSQL database and Redis; two cores: keep the fan-out modest.
    maxWorkers: 2,
  },
});
