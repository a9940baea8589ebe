import { FileKeyValueStore, SignalDevice, SnapTalkerClient } from '@snaptalker/sdk/node';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.js';
import { randomPhone, randomUsername } from '../helpers/api.js';
import { OtpWebhook } from '../helpers/otp-webhook.js';
import { startTestServer } from '../helpers/server.js';

/** Resolves with the next `event` the client emits that satisfies `pred`. */
function nextEvent<K extends 'message' | 'receipt' | 'queue.empty'>(
  c: SnapTalkerClient,
  event: K,
  pred: (...args: any[]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    const listener = (...args: any[]) => {
      if (!pred(...args)) return;
      clearTimeout(timer);
      c.off(event, listener as never);
      resolve(args[0]);
    };
    c.on(event, listener as never);
  });
}

describe('SDK against a real server: E2EE with device-list repair', () => {
  let server: RunningServer;
  let otp: OtpWebhook;
  const clients: SnapTalkerClient[] = [];

  beforeAll(async () => {
    otp = await new OtpWebhook().start();
    server = await startTestServer({ OTP_WEBHOOK_URL: otp.url });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await server.close();
    await otp.stop();
  });

  async function account(store?: FileKeyValueStore) {
    const username = randomUsername();
    const password = 'sdk test password';
    const c = await SnapTalkerClient.register({
      url: server.url,
      username,
      phone: randomPhone(),
      password,
      otp: (phone) => otp.codeFor(phone),
      store,
    });
    clients.push(c);
    return { c, username, password };
  }

  async function link(primary: { c: SnapTalkerClient; username: string; password: string }) {
    const c = await SnapTalkerClient.login({
      url: server.url,
      login: primary.username,
      password: primary.password,
      identity: primary.c.device.identity,
    });
    clients.push(c);
    return c;
  }

  it('two clients (one with two devices) converse; a device added mid-conversation (409) and a reinstalled one (410) are picked up', async () => {
    const alice = await account();
    const bob = await account(new FileKeyValueStore(join(await mkdtemp(join(tmpdir(), 'sdk-')), 'bob.json')));
    const bob2 = await link(bob);
    for (const c of [alice.c, bob.c, bob2]) {
      const ready = nextEvent(c, 'queue.empty');
      c.connect();
      await ready;
    }

    const got = [nextEvent(bob.c, 'message'), nextEvent(bob2, 'message')];
    const delivered = nextEvent(alice.c, 'receipt', (r) => r.status === 'delivered');
    await alice.c.send(bob.c.userId, 'hello Bob, both devices');
    for (const m of await Promise.all(got)) {
      expect(m).toMatchObject({ text: 'hello Bob, both devices', from: { userId: alice.c.userId, deviceId: 1 } });
      expect(m.ciphertextBytes).toBeGreaterThan(0);
    }
    await delivered;

    const reply = nextEvent(alice.c, 'message');
    await bob2.send(alice.c.userId, 'hi Alice, from my laptop');
    const r = await reply;
    expect(r).toMatchObject({ text: 'hi Alice, from my laptop', from: { deviceId: 2 } });
    const read = nextEvent(bob2, 'receipt', (x) => x.status === 'read');
    await alice.c.markRead(r.id);
    await read;

    // Bob links a third device: Alice's next send gets 409 (missing 3), fetches its bundle, retries.
    const bob3 = await link(bob);
    const ready3 = nextEvent(bob3, 'queue.empty');
    bob3.connect();
    await ready3;
    const at3 = nextEvent(bob3, 'message');
    await alice.c.send(bob.c.userId, 'welcome, new device');
    expect((await at3).text).toBe('welcome, new device');

    // Bob reinstalls device 2: same device id, new registration id and keys. Alice gets 410, recovers.
    bob2.close();
    const reinstalled = await SignalDevice.create({
      userId: bob.c.userId,
      deviceId: bob2.deviceId,
      identity: bob.c.device.identity,
    });
    await bob2.api.keys.upload.mutate(await reinstalled.generateKeys({ preKeys: 5, kyberPreKeys: 1 }));
    await alice.c.send(bob.c.userId, 'after your reinstall');
    const queued = await bob2.api.messages.queue.query({});
    const mine = queued.messages.filter((m) => m.senderId === alice.c.userId);
    const last = mine.at(-1);
    expect(last?.type).toBe('prekey');
    expect(await reinstalled.decrypt(alice.c.userId, 1, last as { type: string; content: string })).toBe(
      'after your reinstall',
    );
  });

  it('the file store keeps a device across restarts', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'sdk-')), 'device.json');
    const a = await account(new FileKeyValueStore(path));
    const reloaded = await SignalDevice.load(new FileKeyValueStore(path));
    expect(reloaded?.userId).toBe(a.c.userId);
    expect(reloaded?.registrationId).toBe(a.c.device.registrationId);
    expect(reloaded?.identityKeyB64()).toBe(a.c.device.identityKeyB64());
  });
});
