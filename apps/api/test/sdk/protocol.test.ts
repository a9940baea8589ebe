import { PublicKey } from '@signalapp/libsignal-client';
import { describe, expect, it } from 'vitest';
import {
  type BundleJson,
  type KeyUpload,
  MAX_KEY_ID,
  type PreKeyJson,
  SignalDevice,
  type SignedPreKeyJson,
  b64,
  fromB64,
} from '../helpers/signal-client.js';

// No server: bundles are built by hand from the upload body, exactly as the server would echo them back as JSON.
function bundleOf(
  device: SignalDevice,
  upload: KeyUpload,
  keys: { preKey?: PreKeyJson; kyberPreKey: SignedPreKeyJson },
): BundleJson {
  const bundle: BundleJson = {
    userId: device.userId,
    identityKey: upload.identityKey,
    devices: [
      {
        deviceId: device.deviceId,
        registrationId: upload.registrationId,
        signedPreKey: upload.signedPreKey,
        ...(keys.preKey ? { preKey: keys.preKey } : {}),
        kyberPreKey: keys.kyberPreKey,
      },
    ],
  };
  // Round-trip through JSON text so nothing but the wire representation survives.
  return JSON.parse(JSON.stringify(bundle)) as BundleJson;
}

async function pingPong(alice: SignalDevice, bob: SignalDevice, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const a = `alice→bob #${i} ${'x'.repeat(i * 37)}`;
    const ea = await alice.encrypt(bob.userId, bob.deviceId, a);
    expect(ea.type).toBe('message');
    expect(await bob.decrypt(alice.userId, alice.deviceId, ea)).toBe(a);

    const b = `bob→alice #${i} ünïcødé ✓`;
    const eb = await bob.encrypt(alice.userId, alice.deviceId, b);
    expect(eb.type).toBe('message');
    expect(await alice.decrypt(bob.userId, bob.deviceId, eb)).toBe(b);
  }
}

describe('SignalDevice (real libsignal, no server)', () => {
  it('establishes a session from a full bundle (one-time EC + one-time Kyber prekey) and chats both ways', async () => {
    const alice = await SignalDevice.create({ userId: 'alice', deviceId: 1 });
    const bob = await SignalDevice.create({ userId: 'bob', deviceId: 1 });
    await alice.generateKeys();
    const upload = await bob.generateKeys({ preKeys: 100, kyberPreKeys: 10, lastResort: true });

    expect(upload.preKeys).toHaveLength(100);
    expect(upload.kyberPreKeys).toHaveLength(10);
    expect(upload.kyberLastResortPreKey).toBeDefined();

    const preKey = upload.preKeys[0]!;
    const kyberPreKey = upload.kyberPreKeys[0]!;
    const bundle = bundleOf(bob, upload, { preKey, kyberPreKey });

    expect(await alice.hasSession('bob', 1)).toBe(false);
    await alice.startSession(bundle, 1);
    expect(await alice.hasSession('bob', 1)).toBe(true);

    const first = await alice.encrypt('bob', 1, 'hello bob');
    expect(first.type).toBe('prekey');
    // Until Bob answers, every message Alice sends carries the prekey header.
    const second = await alice.encrypt('bob', 1, 'are you there?');
    expect(second.type).toBe('prekey');

    expect(await bob.hasPreKey(preKey.keyId)).toBe(true);
    expect(await bob.hasKyberPreKey(kyberPreKey.keyId)).toBe(true);
    expect(await bob.decrypt('alice', 1, first)).toBe('hello bob');
    expect(await bob.decrypt('alice', 1, second)).toBe('are you there?');
    expect(await bob.hasSession('alice', 1)).toBe(true);
    // One-time keys are consumed by the incoming session.
    expect(await bob.hasPreKey(preKey.keyId)).toBe(false);
    expect(await bob.hasKyberPreKey(kyberPreKey.keyId)).toBe(false);
    expect(await bob.hasPreKey(upload.preKeys[1]!.keyId)).toBe(true);
    // Bob learned Alice's identity (TOFU).
    expect((await bob.remoteIdentity('alice', 1))?.equals(alice.identity.publicKey)).toBe(true);

    const reply = await bob.encrypt('alice', 1, 'hi alice');
    expect(reply.type).toBe('message');
    expect(await alice.decrypt('bob', 1, reply)).toBe('hi alice');

    await pingPong(alice, bob, 5);

    // Several messages in a row from one side, delivered out of order.
    const burst = [];
    for (let i = 0; i < 4; i++) burst.push(await bob.encrypt('alice', 1, `burst ${i}`));
    for (let i = 3; i >= 0; i--) expect(await alice.decrypt('bob', 1, burst[i]!)).toBe(`burst ${i}`);
  });

  it('establishes a session with signed prekey + last-resort Kyber key only (no one-time prekey)', async () => {
    const alice = await SignalDevice.create({ userId: 'alice', deviceId: 1 });
    const carol = await SignalDevice.create({ userId: 'carol', deviceId: 2 });
    const bob = await SignalDevice.create({ userId: 'bob', deviceId: 3 });
    const upload = await bob.generateKeys();
    const lastResort = upload.kyberLastResortPreKey!;

    const bundle = bundleOf(bob, upload, { kyberPreKey: lastResort });
    expect(bundle.devices[0]!.preKey).toBeUndefined();

    await alice.startSession(bundle, 3);
    const hello = await alice.encrypt('bob', 3, 'hello bob');
    expect(hello.type).toBe('prekey');
    expect(await bob.decrypt('alice', 1, hello)).toBe('hello bob');
    // The last-resort key is not consumed...
    expect(await bob.hasKyberPreKey(lastResort.keyId)).toBe(true);

    const reply = await bob.encrypt('alice', 1, 'hi alice');
    expect(reply.type).toBe('message');
    expect(await alice.decrypt('bob', 3, reply)).toBe('hi alice');
    await pingPong(alice, bob, 4);

    // ...so a second sender can use the very same bundle.
    await carol.startSession(bundle, 3);
    const fromCarol = await carol.encrypt('bob', 3, 'hello from carol');
    expect(fromCarol.type).toBe('prekey');
    expect(await bob.decrypt('carol', 2, fromCarol)).toBe('hello from carol');
    expect(await bob.hasKyberPreKey(lastResort.keyId)).toBe(true);
    const toCarol = await bob.encrypt('carol', 2, 'hi carol');
    expect(toCarol.type).toBe('message');
    expect(await carol.decrypt('bob', 3, toCarol)).toBe('hi carol');
    await pingPong(carol, bob, 2);
    await pingPong(alice, bob, 1);
  });

  it('produces wire-format keys with the expected sizes and valid signatures', async () => {
    const bob = await SignalDevice.create({ userId: 'bob', deviceId: 1 });
    const upload = await bob.generateKeys();

    const identityBytes = fromB64(upload.identityKey);
    expect(identityBytes.length).toBe(33);
    expect(identityBytes[0]).toBe(5);
    const identityKey = PublicKey.deserialize(identityBytes);
    expect(identityKey.equals(bob.identity.publicKey)).toBe(true);

    expect(upload.registrationId).toBe(bob.registrationId);
    expect(upload.registrationId).toBeGreaterThanOrEqual(1);
    expect(upload.registrationId).toBeLessThanOrEqual(16380);

    const spk = fromB64(upload.signedPreKey.publicKey);
    const spkSig = fromB64(upload.signedPreKey.signature);
    expect(spk.length).toBe(33);
    expect(spk[0]).toBe(5);
    expect(spkSig.length).toBe(64);
    expect(identityKey.verify(spk, spkSig)).toBe(true);

    for (const pk of upload.preKeys) {
      const bytes = fromB64(pk.publicKey);
      expect(bytes.length).toBe(33);
      expect(bytes[0]).toBe(5);
    }

    const kyber = [...upload.kyberPreKeys, upload.kyberLastResortPreKey!];
    expect(kyber).toHaveLength(11);
    for (const k of kyber) {
      const pub = fromB64(k.publicKey);
      const sig = fromB64(k.signature);
      expect(pub.length).toBe(1569);
      expect(pub[0]).toBe(8); // Kyber1024 type byte
      expect(sig.length).toBe(64);
      expect(identityKey.verify(pub, sig)).toBe(true);
    }
    // A signature does not verify over some other key.
    expect(identityKey.verify(fromB64(kyber[1]!.publicKey), fromB64(kyber[0]!.signature))).toBe(false);

    // Key ids: unique, in range, and padded standard base64 throughout.
    const ids = [...upload.preKeys, ...kyber].map((k) => k.keyId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of [...ids, upload.signedPreKey.keyId]) {
      expect(Number.isInteger(id)).toBe(true);
      expect(id).toBeGreaterThanOrEqual(0);
      expect(id).toBeLessThanOrEqual(MAX_KEY_ID);
    }
    expect(upload.kyberPreKeys[0]!.publicKey).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(upload.kyberPreKeys[0]!.publicKey.length % 4).toBe(0);
  });

  it('honours key id options and keeps ids within 24 bits', async () => {
    const dev = await SignalDevice.create({ userId: 'dave', deviceId: 1, registrationId: 4242 });
    expect(dev.registrationId).toBe(4242);
    expect(dev.address().name()).toBe('dave');
    expect(dev.address().deviceId()).toBe(1);

    const a = await dev.generateKeys({ preKeys: 3, kyberPreKeys: 2, signedPreKeyId: 7, startId: 100 });
    expect(a.signedPreKey.keyId).toBe(7);
    expect(a.preKeys.map((k) => k.keyId)).toEqual([100, 101, 102]);
    expect(a.kyberPreKeys.map((k) => k.keyId)).toEqual([103, 104]);
    expect(a.kyberLastResortPreKey?.keyId).toBe(105);

    // Replenishing continues where the previous batch stopped; no last-resort key when not asked for.
    const b = await dev.generateKeys({ preKeys: 2, kyberPreKeys: 1, lastResort: false });
    expect(b.signedPreKey.keyId).toBe(8);
    expect(b.preKeys.map((k) => k.keyId)).toEqual([106, 107]);
    expect(b.kyberPreKeys.map((k) => k.keyId)).toEqual([108]);
    expect(b.kyberLastResortPreKey).toBeUndefined();

    // Ids wrap instead of leaving the 24-bit range.
    const c = await dev.generateKeys({ preKeys: 3, kyberPreKeys: 0, lastResort: false, startId: MAX_KEY_ID - 1 });
    expect(c.preKeys.map((k) => k.keyId)).toEqual([MAX_KEY_ID - 1, MAX_KEY_ID, 1]);
    await expect(dev.generateKeys({ startId: MAX_KEY_ID + 1 })).rejects.toThrow();
  });

  it('rejects malformed input', async () => {
    expect(b64(new Uint8Array([0xfb, 0xff]))).toBe('+/8=');
    expect(Array.from(fromB64('+/8='))).toEqual([0xfb, 0xff]);
    expect(() => fromB64('-_8')).toThrow(); // url-safe, unpadded
    expect(() => fromB64('+/8')).toThrow(); // missing padding

    await expect(SignalDevice.create({ userId: 'x', deviceId: 0 })).rejects.toThrow();

    const alice = await SignalDevice.create({ userId: 'alice', deviceId: 1 });
    const bob = await SignalDevice.create({ userId: 'bob', deviceId: 1 });
    const upload = await bob.generateKeys({ preKeys: 1, kyberPreKeys: 1 });
    const good = bundleOf(bob, upload, { preKey: upload.preKeys[0]!, kyberPreKey: upload.kyberPreKeys[0]! });

    await expect(alice.startSession(good, 2)).rejects.toThrow(/no device 2/);

    const noKyber = structuredClone(good);
    delete noKyber.devices[0]!.kyberPreKey;
    await expect(alice.startSession(noKyber, 1)).rejects.toThrow(/kyberPreKey/);

    // A signed prekey signature made by someone else is refused by libsignal.
    const forged = structuredClone(good);
    const mallory = await SignalDevice.create({ userId: 'mallory', deviceId: 1 });
    forged.devices[0]!.signedPreKey.signature = b64(
      mallory.identity.privateKey.sign(fromB64(forged.devices[0]!.signedPreKey.publicKey)),
    );
    await expect(alice.startSession(forged, 1)).rejects.toThrow();
    expect(await alice.hasSession('bob', 1)).toBe(false);

    await expect(alice.decrypt('bob', 1, { type: 'bogus', content: 'AAAA' })).rejects.toThrow(/envelope type/);
  });
});
