import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createUser } from '../helpers/api.js';
import { absolute, createAttachment } from '../helpers/attachments.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { testEnv } from '../helpers/server.js';

const MiB = 1024 * 1024;

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

/** Samples the process's resident memory every 50 ms until stopped; resolves with the peak. */
function sampleRss(pid: number): { stop: () => Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssBytes(pid));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return peak;
    },
  };
}

describe('disk backend streams: a 100 MiB upload and download keep the server process flat', () => {
  let server: ServerProcess;
  let otp: OtpWebhook;
  let dataDir: string | undefined;

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    const env = await testEnv({ OTP_WEBHOOK_URL: otp.url, LOG_LEVEL: 'info', HTTP_REQUEST_TIMEOUT_MS: '300000' });
    dataDir = env.DATA_DIR;
    server = await spawnServer(env, 90_000);
  }, 120_000);
  afterAll(async () => {
    server?.kill();
    await server?.exited;
    await otp?.stop();
    // 100 MiB of blob: not left in the temp directory.
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('RSS grows by far less than the file while 100 MiB go up and come back intact', async () => {
    const api = client(server.url);
    const user = await createUser(api, otp);
    const pid = server.proc.pid as number;
    const chunk = randomBytes(MiB);
    const total = 100 * MiB;

    // Warm up the code paths (a small round trip), then take the baseline.
    const warm = await createAttachment(api, user.accessToken, 1024);
    await fetch(absolute(server.url, warm.uploadUrl), { method: 'PUT', body: new Uint8Array(1024) });
    await new Promise((r) => setTimeout(r, 500));
    const baseline = await rssBytes(pid);
    const sampler = sampleRss(pid);

    const created = await createAttachment(api, user.accessToken, total);
    const sent = createHash('sha256');
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i === 100) return c.close();
        const part = Buffer.from(chunk);
        part[0] = i++; // every MiB differs
        sent.update(part);
        c.enqueue(part);
      },
    });
    const put = await fetch(absolute(server.url, created.uploadUrl), {
      method: 'PUT',
      headers: created.uploadHeaders,
      body,
      duplex: 'half',
    } as RequestInit);
    expect(put.status).toBe(204);
    const done = await api.post(`/attachments/${created.attachmentId}/complete`, undefined, {
      token: user.accessToken,
    });
    expect(done.body).toEqual({ attachmentId: created.attachmentId, size: total });

    const got = await api.get(`/attachments/${created.attachmentId}`, { token: user.accessToken });
    const res = await fetch(absolute(server.url, got.body.downloadUrl));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(total));
    const received = createHash('sha256');
    let bytes = 0;
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      received.update(part);
      bytes += part.byteLength;
    }
    const peak = await sampler.stop();
    expect(bytes).toBe(total);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    const growth = peak - baseline;
    console.log(`server RSS: baseline ${(baseline / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB`);
    expect(growth).toBeLessThan(50 * MiB);
  }, 180_000);
});
