// What both demos (`demo`, `demo:call`) stand on: an OTP receiver, and the server at SNAPTALKER_URL
// (default http://127.0.0.1:3000) if one answers, else an embedded one in a temporary directory that
// is removed on every exit, Ctrl-C and failures included.
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { startServer } from '../src/server.js';
import { OtpWebhook } from '../test/helpers/otp-webhook.js';

/** A port from the environment, or exit 1 naming the variable. */
export function portFromEnv(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 0 || v > 65535) {
    console.error(`${name} must be a port number, not ${JSON.stringify(process.env[name])}`);
    process.exit(1);
  }
  return v;
}

export interface DemoServer {
  url: string;
  otp: OtpWebhook;
  close(): Promise<void>;
}

export async function demoServer(name: string): Promise<DemoServer> {
  const otp = await new OtpWebhook().start(portFromEnv('DEMO_OTP_PORT', 0));
  const wanted = process.env.SNAPTALKER_URL ?? 'http://127.0.0.1:3000';
  const running = await fetch(`${wanted}/health`, { signal: AbortSignal.timeout(1_000) }).then(
    (r) => r.ok,
    () => false,
  );
  if (running) {
    console.log(`using the server at ${wanted} (its OTP_WEBHOOK_URL must be ${otp.url} for ${name} to read codes)`);
    if (!process.env.DEMO_OTP_PORT) {
      console.log("  this port is random: to choose it, set DEMO_OTP_PORT and the server's OTP_WEBHOOK_URL to match");
    }
    return { url: wanted, otp, close: () => otp.stop() };
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'snaptalker-demo-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const embedded = await startServer(
    loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      GRPC_PORT: '0',
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      OTP_WEBHOOK_URL: otp.url,
      ADMIN_STATS_INTERVAL_MS: '0',
    }),
  );
  console.log(`no server at ${wanted}: started an embedded one at ${embedded.url} (data in ${dataDir})`);
  return {
    url: embedded.url,
    otp,
    async close() {
      await embedded.close();
      await otp.stop();
    },
  };
}
