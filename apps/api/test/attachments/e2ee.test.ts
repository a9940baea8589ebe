import { randomBytes } from 'node:crypto';
import {
  type AttachmentPointer,
  AttachmentIntegrityError,
  type ReceivedMessage,
  SnapTalkerClient,
} from '@snaptalker/sdk/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { blobKey } from '../../src/services/attachments/attachments.service.js';
import { randomPhone, randomUsername } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';
import { attachmentBackends } from './backends.js';

const MiB = 1024 * 1024;

describe.each(attachmentBackends())('SDK attachments, end to end encrypted, on $name', (backend) => {
  let server: RunningServer;
  let otp: OtpWebhook;
  const clients: SnapTalkerClient[] = [];

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    await backend.start();
    // A connection busy when the server closes lingers until its keep-alive timeout: keep that short
    // here, so closing never waits the default 65 s on a loaded machine.
    server = await startTestServer({ OTP_WEBHOOK_URL: otp.url, HTTP_KEEPALIVE_TIMEOUT_MS: '2000', ...backend.env() });
  }, 360_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.close();
    await otp?.stop();
    await backend.stop();
  }, 150_000);

  async function account(): Promise<SnapTalkerClient> {
    const c = await SnapTalkerClient.register({
      url: server.url,
      username: randomUsername(),
      phone: randomPhone(),
      password: 'sdk attachment password',
      otp: (phone) => otp.codeFor(phone),
    });
    clients.push(c);
    return c;
  }

  it('Alice sends Bob 5 MiB: Bob gets the pointer in the decrypted message, downloads, verifies, same bytes', async () => {
    const alice = await account();
    const bob = await account();
    const received: ReceivedMessage[] = [];
    bob.on('message', (m) => received.push(m));
    const ready = new Promise<void>((r) => bob.once('queue.empty', () => r()));
    bob.connect();
    await ready;

    const photo = new Uint8Array(randomBytes(5 * MiB));
    const sent = await alice.sendAttachment(bob.userId, photo, 'image/jpeg');
    expect(sent.attachment).toMatchObject({ size: 5 * MiB, contentType: 'image/jpeg' });
    for (let i = 0; i < 200 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await bob.flush();
    const message = received[0] as ReceivedMessage;
    expect(message.from.userId).toBe(alice.userId);
    expect(message.text).toBe('');
    const pointer = message.attachment as AttachmentPointer;
    expect(pointer).toEqual(sent.attachment);
    expect(Buffer.from(pointer.key, 'base64')).toHaveLength(64);
    expect(Buffer.from(pointer.digest, 'base64')).toHaveLength(32);

    const downloaded = await bob.downloadAttachment(pointer);
    expect(Buffer.from(downloaded).equals(Buffer.from(photo))).toBe(true);

    // What the server stores is ciphertext: not the plaintext, padded, and no run of it inside.
    const stored = Buffer.from((await server.infra.blobs.get(blobKey(pointer.attachmentId))) as Uint8Array);
    expect(stored.length).toBeGreaterThan(photo.length);
    expect(stored.equals(Buffer.from(photo))).toBe(false);
    expect(stored.indexOf(Buffer.from(photo.subarray(MiB, MiB + 64)))).toBe(-1);
    const row = await server.infra.db.prisma.attachment.findUnique({ where: { id: pointer.attachmentId } });
    expect(Number(row?.size)).toBe(stored.length);

    // A wrong key is refused, and so is a blob changed on the server.
    const otherKey = { ...pointer, key: randomBytes(64).toString('base64') };
    await expect(bob.downloadAttachment(otherKey)).rejects.toBeInstanceOf(AttachmentIntegrityError);
    const tampered = Buffer.from(stored);
    tampered[1000] = (tampered[1000] ?? 0) ^ 1;
    await server.infra.blobs.put(blobKey(pointer.attachmentId), tampered);
    await expect(bob.downloadAttachment(pointer)).rejects.toThrow(/digest mismatch/);
    // Even with a digest matching the tampered blob, the MAC catches it.
    const { createHash } = await import('node:crypto');
    const forged = { ...pointer, digest: createHash('sha256').update(tampered).digest('base64') };
    await expect(bob.downloadAttachment(forged)).rejects.toThrow(/MAC mismatch/);
  }, 120_000);
});
