import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { type Client, client } from './api.js';
import { OtpWebhook } from './otp-webhook.js';
import { startTestServer } from './server.js';

export interface ServerContext {
  server: RunningServer;
  otp: OtpWebhook;
  api: Client;
  /** A direct connection to the test database, for assertions on what was (not) stored. */
  db: pg.Client;
}

/**
 * One server per describe block on PostgreSQL + Redis, with an OTP webhook receiver wired in:
 * `let { server, api } = {} as ServerContext; useServer({}, (c) => ({ server, api } = c));`
 */
export function useServer(env: Record<string, string>, assign: (c: ServerContext) => void): void {
  let ctx: ServerContext | undefined;
  beforeAll(async () => {
    const otp = await new OtpWebhook().start();
    const server = await startTestServer({ OTP_WEBHOOK_URL: otp.url, ...env });
    const db = new pg.Client({ connectionString: inject('databaseUrl') });
    await db.connect();
    ctx = { server, otp, api: client(server.url), db };
    assign(ctx);
  });
  afterAll(async () => {
    await ctx?.db.end();
    await ctx?.server.close();
    await ctx?.otp.stop();
  });
}
