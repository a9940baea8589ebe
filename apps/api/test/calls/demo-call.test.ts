import { type ChildProcess, spawn } from 'node:child_process';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';

/**
 * The newcomer's call: `pnpm demo:call` (embedded server), its two printed URLs opened in a real
 * Chromium, Call pressed in one tab and Answer in the other, a text going both ways over the call.
 */
const ARGS = [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream'];

describe('pnpm demo:call', () => {
  let proc: ChildProcess | undefined;
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close().catch(() => {});
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc?.once('exit', r));
      proc.kill('SIGINT');
      await exited;
    }
  }, 60_000);

  it('two tabs call each other through the signaling socket and talk over the data channel', async () => {
    proc = spawn(process.execPath, ['--conditions=@snaptalker/source', '--import', 'tsx', 'scripts/demo-call.ts'], {
      env: { ...process.env, SNAPTALKER_URL: 'http://127.0.0.1:1', DEMO_CALL_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout?.on('data', (d) => {
      out += d;
    });
    proc.stderr?.on('data', (d) => {
      out += d;
    });
    const urls = await new Promise<{ alice: string; bob: string }>((resolve, reject) => {
      const t = setInterval(() => {
        const a = /alice \([^)]+\): (\S+)/.exec(out)?.[1];
        const b = /bob {3}\([^)]+\): (\S+)/.exec(out)?.[1];
        if (a && b) {
          clearInterval(t);
          resolve({ alice: a, bob: b });
        }
        if (proc?.exitCode !== null) {
          clearInterval(t);
          reject(new Error(`demo:call exited: ${out}`));
        }
      }, 100);
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 120_000 });
    const context = await browser.newContext();
    const [alice, bob] = await Promise.all([context.newPage(), context.newPage()]);
    for (const p of [alice, bob]) p.setDefaultTimeout(60_000);
    await alice.goto(urls.alice);
    await bob.goto(urls.bob);
    await alice.waitForFunction(() => (globalThis as { demoState?: string }).demoState === 'idle');
    await bob.waitForFunction(() => (globalThis as { demoState?: string }).demoState === 'idle');
    await alice.getByRole('button', { name: 'Call' }).click();
    await bob.getByRole('button', { name: 'Answer' }).click({ timeout: 30_000 });
    for (const p of [alice, bob]) await p.getByText('data channel open').waitFor();
    await alice.getByPlaceholder(/data channel/).fill('hello from alice');
    await alice.getByRole('button', { name: 'Send' }).click();
    await bob.getByPlaceholder(/data channel/).fill('hi alice, bob here');
    await bob.getByRole('button', { name: 'Send' }).click();
    await bob.waitForFunction(() =>
      ((globalThis as { demoReceived?: string[] }).demoReceived ?? []).includes('hello from alice'),
    );
    await alice.waitForFunction(() =>
      ((globalThis as { demoReceived?: string[] }).demoReceived ?? []).includes('hi alice, bob here'),
    );
    expect(await alice.locator('#state').textContent()).toBe('connected');
    await alice.getByRole('button', { name: 'Hang up' }).click();
    await bob.waitForFunction(() => (globalThis as { demoState?: string }).demoState === 'ended: hangup');
  }, 180_000);
});
