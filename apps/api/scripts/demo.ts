// Two users, one encrypted conversation, with delivery and read receipts — through a running server
// (SNAPTALKER_URL, default http://127.0.0.1:3000) or, if none answers, an embedded one started here.
// Run from the repo root: `npx -y pnpm@10.34.9 demo`
// Against a running server the demo must read the OTP codes that server sends: start the server with
// OTP_WEBHOOK_URL=http://127.0.0.1:<port>/otp and the demo with DEMO_OTP_PORT=<port> (same port).
import { createHash, randomInt } from 'node:crypto';
import {
  AttachmentIntegrityError,
  type ClientEvents,
  decryptAttachment,
  encryptAttachment,
  SnapTalkerClient,
} from '@snaptalker/sdk/node';
import { demoServer } from './demo-server.js';

process.once('SIGINT', () => process.exit(130));
const server = await demoServer('this demo');
const { url, otp } = server;

type Events = ClientEvents;
const once = <K extends 'message' | 'receipt' | 'queue.empty'>(
  c: SnapTalkerClient,
  event: K,
  pred: (...args: Events[K]) => boolean = () => true,
) =>
  new Promise<Events[K][0]>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), 15_000);
    const l = (...args: Events[K]) => {
      if (!pred(...args)) return;
      clearTimeout(t);
      c.off(event, l as never);
      resolve(args[0]);
    };
    c.on(event, l as never);
  });

async function user(name: string) {
  const tag = randomInt(100_000, 999_999);
  const c = await SnapTalkerClient.register({
    url,
    username: `${name}_${tag}`,
    phone: `+1555${randomInt(1_000_000, 9_999_999)}`,
    password: `${name} demo password`,
    otp: (phone) => otp.codeFor(phone),
  });
  const ready = once(c, 'queue.empty');
  c.connect();
  await ready;
  console.log(`${name}: registered as ${c.userId} (device ${c.deviceId}), keys uploaded, stream connected`);
  return c;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** A valid 1×1 PNG (a red pixel), so the demo needs no file. */
const tinyPng = () =>
  new Uint8Array(
    Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
      'base64',
    ),
  );

const t0 = Date.now();
try {
  const alice = await user('alice');
  const bob = await user('bob');

  const inbox = once(bob, 'message');
  const delivered = once(alice, 'receipt', (r) => r.status === 'delivered');
  const sent = await alice.send(bob.userId, 'Hello Bob! This is end-to-end encrypted.');
  console.log(`alice → bob: sent ${sent.messages.length} envelope(s), message ${sent.messages[0]?.messageId}`);
  const m = await inbox;
  console.log(`bob ← alice: ${m.ciphertextBytes} bytes of ciphertext decrypted to: "${m.text}"`);
  console.log(`alice: receipt "${(await delivered)?.status}"`);

  const read = once(alice, 'receipt', (r) => r.status === 'read');
  await bob.markRead(m.id);
  console.log(`alice: receipt "${(await read)?.status}"`);

  const back = once(alice, 'message');
  await bob.send(alice.userId, 'Hi Alice! Only we can read this.');
  const r = await back;
  console.log(`alice ← bob: ${r.ciphertextBytes} bytes of ciphertext decrypted to: "${r.text}"`);

  // An image: encrypted here, uploaded as ciphertext, its key and digest inside the E2EE message.
  const image = tinyPng();
  const photo = once(bob, 'message', (msg) => msg.attachment !== undefined);
  const shared = await alice.sendAttachment(bob.userId, image, 'image/png');
  console.log(
    `alice → bob: ${image.byteLength}-byte PNG as attachment ${shared.attachment.attachmentId} (the server stores only ciphertext)`,
  );
  const pointer = (await photo).attachment;
  if (!pointer) throw new Error('no attachment pointer in the message');
  const got = await bob.downloadAttachment(pointer);
  const same = sha256(got) === sha256(image);
  console.log(`bob: downloaded, digest and MAC verified, decrypted ${got.byteLength} bytes, identical: ${same}`);
  if (!same) throw new Error('attachment bytes differ');
  // The same check refuses a blob altered in storage or in transit.
  const copy = encryptAttachment(image);
  const at = copy.blob.byteLength - 40;
  copy.blob[at] = (copy.blob[at] ?? 0) ^ 1;
  try {
    decryptAttachment(copy.blob, { ...pointer, key: b64(copy.key), digest: b64(copy.digest) });
    throw new Error('a tampered blob was accepted');
  } catch (e) {
    if (!(e instanceof AttachmentIntegrityError)) throw e;
    console.log(`a tampered copy is rejected: ${e.message}`);
  }
  console.log(`demo finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // Closed before the server stops, so its shutdown does not wait on closing handshakes.
  await Promise.all([alice.close(), bob.close()]);
} catch (e) {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  await server.close();
}
process.exit(process.exitCode ?? 0);
