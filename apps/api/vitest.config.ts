import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files share one PostgreSQL database and Redis; two cores: keep the fan-out modest.
    maxWorkers: 2,
  },
});
