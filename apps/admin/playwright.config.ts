import { defineConfig } from '@playwright/test';

// Acceptance tests: the real API (PostgreSQL + Redis) and the built console, both started by
// test/global-setup.ts on free ports. Browsers are the machine's Chromium (nothing is downloaded).
export default defineConfig({
  testDir: './test',
  globalSetup: './test/global-setup.ts',
  outputDir: './test-results/output',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  reporter: [['list'], ['html', { open: 'never', outputFolder: './test-results/report' }]],
  use: {
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.PLAYWRIGHT_CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
