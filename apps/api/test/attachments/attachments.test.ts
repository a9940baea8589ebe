import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobKey } from '../../src/services/attachments/attachments.service.js';
import type { RunningServer } from '../../src/server.js';
import { type Client, client, createUser, type TestUser } from '../helpers/api.js';
import { absolute, createAttachment, putBlob, uploadAttachment } from '../helpers/attachments.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';
import { attachmentBackends } from './backends.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(attachmentBackends())('attachments on $name', (backend) => {
  let server: RunningServer;
  let otp: OtpWebhook;
  let api: Client;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    await backend.start();
    // A connection busy when the server closes lingers until its keep-alive timeout: keep that short
    // here, so closing never waits the default 65 s on a loaded machine.
    server = await startTestServer({ OTP_WEBHOOK_URL: otp.url, HTTP_KEEPALIVE_TIMEOUT_MS: '2000', ...backend.env() });
    api = client(server.url);
    alice = await createUser(api, otp);
    bob = await createUser(api, otp);
  }, 360_000);
  afterAll(async () => {
    await server?.close();
    await otp?.stop();
    await backend.stop();
  }, 150_000);

  const download = (url: string, headers: Record<string, string> = {}) => fetch(absolute(server.url, url), { headers });

  it('/ready names the storage backend', async () => {
    const r = await fetch(`${server.url}/ready`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { checks: { storage: unknown } }).checks.storage).toEqual({
      backend: backend.name,
      ok: true,
    });
  });

  it('whole flow: create, PUT, complete; another user gets a download URL and the same bytes', async () => {
    const bytes = new Uint8Array(randomBytes(300 * 1024 + 5));
    const { created, complete } = await uploadAttachment(api, server.url, alice.accessToken, bytes, 'image/jpeg');
    expect(created.attachmentId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(created.uploadMethod).toBe('PUT');
    const ttl = new Date(created.expiresAt).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(15 * 60_000);
    if (backend.name === 's3') expect(created.uploadUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/snaptalker-test/);
    else expect(created.uploadUrl).toMatch(/^\/api\/v1\/attachments\/[A-Za-z0-9_-]{22}\/blob\?expires=\d+&signature=/);
    expect(complete.status).toBe(200);
    expect(complete.body).toEqual({ attachmentId: created.attachmentId, size: bytes.byteLength });

    const got = await api.get(`/attachments/${created.attachmentId}`, { token: bob.accessToken });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      attachmentId: created.attachmentId,
      size: bytes.byteLength,
      contentType: 'image/jpeg',
    });
    expect(new Date(got.body.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    const res = await download(got.body.downloadUrl);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    // Completing again answers the same; ids are unique.
    const again = await api.post(`/attachments/${created.attachmentId}/complete`, undefined, {
      token: alice.accessToken,
    });
    expect(again.body).toEqual(complete.body);
    const other = await createAttachment(api, alice.accessToken, 10);
    expect(other.attachmentId).not.toBe(created.attachmentId);
  });

  it('tRPC attachments router: create, complete, get, delete', async () => {
    const trpc = (path: string, input: unknown, method: 'GET' | 'POST' = 'POST', token = alice.accessToken) =>
      fetch(
        method === 'GET'
          ? `${server.url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`
          : `${server.url}/trpc/${path}`,
        {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: method === 'POST' ? JSON.stringify(input) : undefined,
        },
      ).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    const bytes = new Uint8Array(randomBytes(2048));
    const c = await trpc('attachments.create', { size: bytes.byteLength });
    expect(c.status).toBe(200);
    const created = c.body.result.data;
    expect((await putBlob(server.url, created, bytes)).status).toBeLessThan(300);
    const done = await trpc('attachments.complete', { id: created.attachmentId });
    expect(done.body.result.data).toEqual({ attachmentId: created.attachmentId, size: 2048 });
    const got = await trpc('attachments.get', { id: created.attachmentId }, 'GET', bob.accessToken);
    expect(got.body.result.data.size).toBe(2048);
    const refused = await trpc('attachments.delete', { id: created.attachmentId }, 'POST', bob.accessToken);
    expect(refused.body.error.data.code).toBe('FORBIDDEN');
    expect((await trpc('attachments.delete', { id: created.attachmentId })).status).toBe(200);
    const gone = await trpc('attachments.get', { id: created.attachmentId }, 'GET');
    expect(gone.body.error.data.code).toBe('NOT_FOUND');
    const big = await trpc('attachments.create', { size: server.config.ATTACHMENT_MAX_BYTES + 1 });
    expect(big.body.error.data.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a size over ATTACHMENT_MAX_BYTES is 413; size 0 or unknown fields 400', async () => {
    const max = server.config.ATTACHMENT_MAX_BYTES;
    expect(max).toBe(100 * 1024 * 1024);
    const over = await api.post('/attachments', { size: max + 1 }, { token: alice.accessToken });
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await api.post('/attachments', { size: 0 }, { token: alice.accessToken })).status).toBe(400);
    expect((await api.post('/attachments', { size: 5, owner: 'x' }, { token: alice.accessToken })).status).toBe(400);
    expect((await api.post('/attachments', { size: 5, contentType: 'no' }, { token: alice.accessToken })).status).toBe(
      400,
    );
    expect((await api.post('/attachments', { size: 5 })).status).toBe(401);
    expect((await createAttachment(api, alice.accessToken, max)).attachmentId).toBeTruthy();
  });

  it('a short upload is refused at complete (400) and its object deleted; nothing uploaded is 400 too', async () => {
    const created = await createAttachment(api, alice.accessToken, 1000);
    const complete = () =>
      api.post(`/attachments/${created.attachmentId}/complete`, undefined, { token: alice.accessToken });
    const missing = await complete();
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('VALIDATION_FAILED');
    expect((await putBlob(server.url, created, new Uint8Array(999))).status).toBeLessThan(300);
    expect(await server.infra.blobs.stat(blobKey(created.attachmentId))).not.toBeNull();
    const short = await complete();
    expect(short.status).toBe(400);
    expect(short.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { declaredSize: 1000, uploadedSize: 999 },
    });
    expect(await server.infra.blobs.stat(blobKey(created.attachmentId))).toBeNull();
    expect((await api.get(`/attachments/${created.attachmentId}`, { token: bob.accessToken })).status).toBe(404);
    // Still pending: a correct upload with the same URL completes.
    expect((await putBlob(server.url, created, new Uint8Array(1000))).status).toBeLessThan(300);
    expect((await complete()).status).toBe(200);
  });

  it('GET before complete, of an unknown id and of a deleted one is 404; only the uploader completes', async () => {
    const created = await createAttachment(api, alice.accessToken, 16);
    expect((await api.get(`/attachments/${created.attachmentId}`, { token: alice.accessToken })).status).toBe(404);
    expect((await putBlob(server.url, created, new Uint8Array(16))).status).toBeLessThan(300);
    expect((await api.get(`/attachments/${created.attachmentId}`, { token: alice.accessToken })).status).toBe(404);
    const byBob = await api.post(`/attachments/${created.attachmentId}/complete`, undefined, {
      token: bob.accessToken,
    });
    expect(byBob.status).toBe(404);
    const unknown = await api.get(`/attachments/${randomBytes(16).toString('base64url')}`, { token: bob.accessToken });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    expect((await api.get('/attachments/not-an-id', { token: bob.accessToken })).status).toBe(400);
  });

  it('delete: a stranger is refused (403), the uploader deletes (204), then it is gone (404)', async () => {
    const bytes = new Uint8Array(randomBytes(4096));
    const { created } = await uploadAttachment(api, server.url, alice.accessToken, bytes);
    const id = created.attachmentId;
    const url = (await api.get(`/attachments/${id}`, { token: bob.accessToken })).body.downloadUrl as string;
    const stranger = await api.del(`/attachments/${id}`, { token: bob.accessToken });
    expect(stranger.status).toBe(403);
    expect(stranger.body.error.code).toBe('FORBIDDEN');
    expect((await api.get(`/attachments/${id}`, { token: bob.accessToken })).status).toBe(200);
    const del = await api.del(`/attachments/${id}`, { token: alice.accessToken });
    expect(del.status).toBe(204);
    expect((await api.get(`/attachments/${id}`, { token: bob.accessToken })).status).toBe(404);
    expect((await api.del(`/attachments/${id}`, { token: alice.accessToken })).status).toBe(404);
    expect(await server.infra.blobs.stat(blobKey(id))).toBeNull();
    // A download URL handed out before the delete no longer yields the bytes.
    expect((await download(url)).status).toBe(404);
  });

  it('expired and tampered signed URLs are 403', async () => {
    const bytes = new Uint8Array(randomBytes(1024));
    const { created } = await uploadAttachment(api, server.url, alice.accessToken, bytes);
    const key = blobKey(created.attachmentId);
    const good = await server.infra.blobs.presignGet(key, { expiresInS: 600 });
    expect((await download(good.url)).status).toBe(200);
    const flip = (u: string, param: string) => {
      const url = new URL(u, server.url);
      const v = url.searchParams.get(param) as string;
      url.searchParams.set(param, (v[0] === 'A' ? 'B' : 'A') + v.slice(1));
      return url.toString();
    };
    const sigParam = backend.name === 's3' ? 'X-Amz-Signature' : 'signature';
    const tampered = await download(flip(good.url, sigParam));
    expect(tampered.status).toBe(403);
    // Another object's key under the same signature is refused too.
    const other = await createAttachment(api, alice.accessToken, 5);
    const moved = new URL(good.url, server.url);
    moved.pathname = moved.pathname.replace(created.attachmentId, other.attachmentId);
    expect((await download(moved.toString())).status).toBe(403);
    // A tampered upload URL stores nothing.
    const put = await fetch(flip(absolute(server.url, other.uploadUrl), sigParam), {
      method: 'PUT',
      headers: other.uploadHeaders,
      body: new Uint8Array(5),
    });
    expect(put.status).toBe(403);
    expect(await server.infra.blobs.stat(blobKey(other.attachmentId))).toBeNull();
    const short = await server.infra.blobs.presignGet(key, { expiresInS: 1 });
    await sleep(2_500);
    const expired = await download(short.url);
    expect(expired.status).toBe(403);
    if (backend.name === 'disk') {
      expect(((await expired.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    }
  });

  it('downloads honour Range: 206 with Content-Range, 416 past the end', async () => {
    const bytes = new Uint8Array(randomBytes(10_000));
    const { created } = await uploadAttachment(api, server.url, alice.accessToken, bytes);
    const { downloadUrl } = (await api.get(`/attachments/${created.attachmentId}`, { token: bob.accessToken })).body;
    const part = await download(downloadUrl, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 100-199/10000');
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(bytes.subarray(100, 200)))).toBe(true);
    const tail = await download(downloadUrl, { range: 'bytes=-10' });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(Buffer.from(bytes.subarray(9990)))).toBe(true);
    const open = await download(downloadUrl, { range: 'bytes=9000-' });
    expect(open.status).toBe(206);
    expect((await open.arrayBuffer()).byteLength).toBe(1000);
    const past = await download(downloadUrl, { range: 'bytes=10000-10010' });
    expect(past.status).toBe(416);
    await past.arrayBuffer();
    if (backend.name === 'disk') expect(past.headers.get('content-range')).toBe('bytes */10000');
  });

  it('cleanup deletes never-completed uploads and expired attachments with their objects; safe on two nodes at once', async () => {
    const stale = await createAttachment(api, alice.accessToken, 8);
    expect((await putBlob(server.url, stale, new Uint8Array(8))).status).toBeLessThan(300);
    const old = await uploadAttachment(api, server.url, alice.accessToken, new Uint8Array(randomBytes(64)));
    const fresh = await uploadAttachment(api, server.url, alice.accessToken, new Uint8Array(randomBytes(64)));
    const ids = [stale.attachmentId, old.created.attachmentId];
    // Past their deadlines (only these rows: other suites share the database).
    await server.infra.db.prisma.attachment.updateMany({
      where: { id: { in: ids } },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const a = server.services.attachments;
    const [r1, r2] = await Promise.all([a.cleanup(), a.cleanup()]);
    expect(r1.abandoned + r2.abandoned).toBeGreaterThanOrEqual(1);
    expect(r1.expired + r2.expired).toBeGreaterThanOrEqual(1);
    for (const id of ids) {
      expect(await server.infra.blobs.stat(blobKey(id))).toBeNull();
      expect((await server.infra.db.prisma.attachment.findUnique({ where: { id } }))?.state).toBe('deleted');
    }
    expect((await api.get(`/attachments/${old.created.attachmentId}`, { token: bob.accessToken })).status).toBe(404);
    const late = await api.post(`/attachments/${stale.attachmentId}/complete`, undefined, { token: alice.accessToken });
    expect(late.status).toBe(404);
    expect((await api.get(`/attachments/${fresh.created.attachmentId}`, { token: bob.accessToken })).status).toBe(200);
    // A day later the deleted rows are forgotten (they no longer count for the quota).
    await server.infra.db.prisma.attachment.updateMany({
      where: { id: { in: ids } },
      data: { createdAt: new Date(Date.now() - 25 * 3_600_000) },
    });
    await a.cleanup();
    expect(await server.infra.db.prisma.attachment.count({ where: { id: { in: ids } } })).toBe(0);
  });

  it('the metrics count uploads by outcome and the bytes stored', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/attachment_uploads_total\{outcome="complete"\} [1-9]/);
    expect(text).toMatch(/attachment_uploads_total\{outcome="size_mismatch"\} [1-9]/);
    expect(text).toMatch(/attachment_stored_bytes [1-9]/);
  });

  it('the stored object is the uploaded bytes as they were (the server adds and removes nothing)', async () => {
    const bytes = new Uint8Array(randomBytes(777));
    const { created } = await uploadAttachment(api, server.url, alice.accessToken, bytes);
    const stored = await server.infra.blobs.get(blobKey(created.attachmentId));
    expect(Buffer.from(stored as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
  });

  if (backend.name === 'disk') {
    it('disk: more bytes than declared is 413 (Content-Length or body), a cut-off upload leaves nothing', async () => {
      const created = await createAttachment(api, alice.accessToken, 1000);
      const tooLong = await putBlob(server.url, created, new Uint8Array(1001));
      expect(tooLong.status).toBe(413);
      expect(((await tooLong.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
      // Chunked (no Content-Length): cut at the first byte past the declared size.
      const chunked = await fetch(absolute(server.url, created.uploadUrl), {
        method: 'PUT',
        body: new ReadableStream({
          start(c) {
            c.enqueue(new Uint8Array(600));
            c.enqueue(new Uint8Array(600));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(chunked.status).toBe(413);
      expect(await server.infra.blobs.stat(blobKey(created.attachmentId))).toBeNull();

      // A client that goes away mid-body.
      const url = new URL(absolute(server.url, created.uploadUrl));
      const { connect } = await import('node:net');
      const sock = connect(Number(url.port), url.hostname);
      await new Promise((r) => sock.once('connect', r));
      sock.write(`PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1000\r\n\r\n`);
      sock.write(Buffer.alloc(400));
      await sleep(300);
      sock.destroy();
      await sleep(500);
      expect(await server.infra.blobs.stat(blobKey(created.attachmentId))).toBeNull();
      const dir = join(server.config.dataDir, 'blobs', 'attachments.d');
      expect((await readdir(dir)).filter((f) => f.includes(created.attachmentId))).toEqual([]);
      // The URL still works for a correct upload.
      expect((await putBlob(server.url, created, new Uint8Array(1000))).status).toBe(204);
      expect(
        (await api.post(`/attachments/${created.attachmentId}/complete`, undefined, { token: alice.accessToken }))
          .status,
      ).toBe(200);
      // Completed: the upload URL cannot replace it.
      expect((await putBlob(server.url, created, new Uint8Array(1000))).status).toBe(409);
    });

    it('disk: a download URL cannot upload, an upload URL cannot download', async () => {
      const bytes = new Uint8Array(randomBytes(100));
      const { created } = await uploadAttachment(api, server.url, alice.accessToken, bytes);
      const { downloadUrl } = (await api.get(`/attachments/${created.attachmentId}`, { token: bob.accessToken })).body;
      const put = await fetch(absolute(server.url, downloadUrl), { method: 'PUT', body: new Uint8Array(100) });
      expect(put.status).toBe(403);
      expect((await download(created.uploadUrl)).status).toBe(403);
      expect((await download(downloadUrl.split('?')[0] as string)).status).toBe(400);
    });
  }
});

describe('attachment quota', () => {
  let server: RunningServer;
  let otp: OtpWebhook;

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await startTestServer({ OTP_WEBHOOK_URL: otp.url, ATTACHMENT_QUOTA_BYTES_PER_DAY: '1000' });
  });
  afterAll(async () => {
    await server?.close();
    await otp?.stop();
  });

  it("a user's uploads of the last 24 hours are limited: over ATTACHMENT_QUOTA_BYTES_PER_DAY is 429 with Retry-After", async () => {
    const api = client(server.url);
    const user = await createUser(api, otp);
    const other = await createUser(api, otp);
    expect((await api.post('/attachments', { size: 600 }, { token: user.accessToken })).status).toBe(201);
    const over = await api.post('/attachments', { size: 401 }, { token: user.accessToken });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('RATE_LIMITED');
    const retry = Number(over.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(86_000);
    expect(retry).toBeLessThanOrEqual(86_400);
    expect((await api.post('/attachments', { size: 400 }, { token: user.accessToken })).status).toBe(201);
    // Concurrent creates cannot squeeze past it together.
    const racing = await Promise.all(
      Array.from({ length: 5 }, () => api.post('/attachments', { size: 300 }, { token: other.accessToken })),
    );
    expect(racing.filter((r) => r.status === 201)).toHaveLength(3);
    expect(racing.filter((r) => r.status === 429)).toHaveLength(2);
  });
});
