import {
  CiphertextMessageType,
  IdentityKeyPair,
  KEMKeyPair,
  KEMPublicKey,
  KyberPreKeyRecord,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  SignalMessage,
  SignedPreKeyRecord,
  processPreKeyBundle,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from '@signalapp/libsignal-client';
import { b64, fromB64 } from '../base64.js';
import { type KeyValueStore, MemoryKeyValueStore } from '../kv.js';
import {
  KvIdentityKeyStore,
  KvKyberPreKeyStore,
  KvPreKeyStore,
  KvSessionStore,
  KvSignedPreKeyStore,
} from './stores.js';
import type { BundleJson, Ciphertext, KeyUpload, PreKeyJson, SignedPreKeyJson } from './wire.js';

/** Key ids are 24-bit on the wire (0..16777215). */
export const MAX_KEY_ID = 0xffffff;
const wrapId = (id: number) => ((((id - 1) % MAX_KEY_ID) + MAX_KEY_ID) % MAX_KEY_ID) + 1;

function checkKeyId(id: number, what: string): number {
  if (!Number.isInteger(id) || id < 0 || id > MAX_KEY_ID) throw new Error(`${what} ${id} outside 0..${MAX_KEY_ID}`);
  return id;
}

export interface CreateDeviceOptions {
  userId: string;
  /** libsignal accepts 1..127. */
  deviceId: number;
  /** Linked devices share the account's identity key pair. */
  identity?: IdentityKeyPair;
  registrationId?: number;
  /** Where sessions and keys live (default: memory). */
  store?: KeyValueStore;
}

export interface GenerateKeysOptions {
  preKeys?: number;
  kyberPreKeys?: number;
  lastResort?: boolean;
  signedPreKeyId?: number;
  /** First id of this batch; default continues after the previous batch. */
  startId?: number;
}

const LOCAL = 'local:';
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const readU32 = (b: Uint8Array | null) => (b ? new Uint32Array(new Uint8Array(b).buffer)[0] : undefined);

/**
 * One Signal device: its identity, prekeys and sessions (in a pluggable KeyValueStore), key
 * generation in the server's JSON upload format, and encrypt/decrypt with real libsignal.
 */
export class SignalDevice {
  private readonly sessions: KvSessionStore;
  private readonly identities: KvIdentityKeyStore;
  private readonly preKeys: KvPreKeyStore;
  private readonly signedPreKeys: KvSignedPreKeyStore;
  private readonly kyberPreKeys: KvKyberPreKeyStore;

  private constructor(
    readonly userId: string,
    readonly deviceId: number,
    readonly registrationId: number,
    readonly identity: IdentityKeyPair,
    private readonly kv: KeyValueStore,
  ) {
    this.sessions = new KvSessionStore(kv);
    this.identities = new KvIdentityKeyStore(kv, identity, registrationId);
    this.preKeys = new KvPreKeyStore(kv);
    this.signedPreKeys = new KvSignedPreKeyStore(kv);
    this.kyberPreKeys = new KvKyberPreKeyStore(kv);
  }

  /** A new device, persisted into `store` so `load` can bring it back. */
  static async create(opts: CreateDeviceOptions): Promise<SignalDevice> {
    if (!Number.isInteger(opts.deviceId) || opts.deviceId < 1 || opts.deviceId > 127) {
      throw new Error(`deviceId ${opts.deviceId} outside libsignal's 1..127`);
    }
    const kv = opts.store ?? new MemoryKeyValueStore();
    const identity = opts.identity ?? IdentityKeyPair.generate();
    const registrationId = opts.registrationId ?? 1 + Math.floor(Math.random() * 16380);
    await kv.set(`${LOCAL}identity`, identity.serialize());
    await kv.set(`${LOCAL}registration`, u32(registrationId));
    await kv.set(`${LOCAL}address`, new TextEncoder().encode(`${opts.userId}.${opts.deviceId}`));
    return new SignalDevice(opts.userId, opts.deviceId, registrationId, identity, kv);
  }

  /** The device saved in `store` by `create`, or null. */
  static async load(store: KeyValueStore): Promise<SignalDevice | null> {
    const identity = await store.get(`${LOCAL}identity`);
    const reg = readU32(await store.get(`${LOCAL}registration`));
    const address = await store.get(`${LOCAL}address`);
    if (!identity || reg === undefined || !address) return null;
    const [userId, deviceId] = new TextDecoder().decode(address).split('.');
    return new SignalDevice(userId as string, Number(deviceId), reg, IdentityKeyPair.deserialize(identity), store);
  }

  address(): ProtocolAddress {
    return ProtocolAddress.new(this.userId, this.deviceId);
  }

  identityKeyB64(): string {
    return b64(this.identity.publicKey.serialize());
  }

  private async counter(name: string, start?: number): Promise<number> {
    if (start !== undefined) return start;
    return readU32(await this.kv.get(`${LOCAL}${name}`)) ?? 1;
  }

  /**
   * A new signed prekey plus one-time EC and Kyber prekeys (and a last-resort Kyber key), private
   * halves stored, public halves returned as the upload body. Calling again replenishes.
   */
  async generateKeys(opts: GenerateKeysOptions = {}): Promise<KeyUpload> {
    const now = Date.now();
    const idKey = this.identity.privateKey;
    let next = wrapId(checkKeyId(await this.counter('next-key', opts.startId), 'startId'));
    const takeId = () => {
      const id = next;
      next = wrapId(id + 1);
      return id;
    };
    const signedId = checkKeyId(opts.signedPreKeyId ?? (await this.counter('next-signed')), 'signedPreKeyId');
    const signedPriv = PrivateKey.generate();
    const signedPub = signedPriv.getPublicKey();
    const signedSig = idKey.sign(signedPub.serialize());
    await this.signedPreKeys.saveSignedPreKey(
      signedId,
      SignedPreKeyRecord.new(signedId, now, signedPub, signedPriv, signedSig),
    );

    const preKeys: PreKeyJson[] = [];
    for (let i = 0; i < (opts.preKeys ?? 100); i++) {
      const id = takeId();
      const priv = PrivateKey.generate();
      await this.preKeys.savePreKey(id, PreKeyRecord.new(id, priv.getPublicKey(), priv));
      preKeys.push({ keyId: id, publicKey: b64(priv.getPublicKey().serialize()) });
    }
    const kyber = async (id: number, lastResort: boolean): Promise<SignedPreKeyJson> => {
      const kp = KEMKeyPair.generate();
      const pub = kp.getPublicKey().serialize();
      const sig = idKey.sign(pub);
      await this.kyberPreKeys.saveKyberPreKey(id, KyberPreKeyRecord.new(id, now, kp, sig), lastResort);
      return { keyId: id, publicKey: b64(pub), signature: b64(sig) };
    };
    const kyberPreKeys: SignedPreKeyJson[] = [];
    for (let i = 0; i < (opts.kyberPreKeys ?? 10); i++) kyberPreKeys.push(await kyber(takeId(), false));
    const upload: KeyUpload = {
      identityKey: this.identityKeyB64(),
      registrationId: this.registrationId,
      signedPreKey: { keyId: signedId, publicKey: b64(signedPub.serialize()), signature: b64(signedSig) },
      preKeys,
      kyberPreKeys,
    };
    if (opts.lastResort ?? true) upload.kyberLastResortPreKey = await kyber(takeId(), true);
    await this.kv.set(`${LOCAL}next-key`, u32(next));
    await this.kv.set(`${LOCAL}next-signed`, u32(wrapId(signedId + 1)));
    return upload;
  }

  /** Builds a libsignal PreKeyBundle from the JSON bundle alone and opens an outgoing session. */
  async startSession(bundle: BundleJson, deviceId: number): Promise<void> {
    const d = bundle.devices.find((x) => x.deviceId === deviceId);
    if (!d) throw new Error(`bundle for ${bundle.userId} has no device ${deviceId}`);
    if (!d.kyberPreKey) throw new Error(`bundle for ${bundle.userId}.${deviceId} has no kyberPreKey (PQXDH needs one)`);
    const preKey = d.preKey ?? null;
    const libBundle = PreKeyBundle.new(
      d.registrationId,
      d.deviceId,
      preKey ? preKey.keyId : null,
      preKey ? PublicKey.deserialize(fromB64(preKey.publicKey)) : null,
      d.signedPreKey.keyId,
      PublicKey.deserialize(fromB64(d.signedPreKey.publicKey)),
      fromB64(d.signedPreKey.signature),
      PublicKey.deserialize(fromB64(bundle.identityKey)),
      d.kyberPreKey.keyId,
      KEMPublicKey.deserialize(fromB64(d.kyberPreKey.publicKey)),
      fromB64(d.kyberPreKey.signature),
    );
    await processPreKeyBundle(
      libBundle,
      ProtocolAddress.new(bundle.userId, deviceId),
      this.address(),
      this.sessions,
      this.identities,
    );
  }

  async encrypt(toUserId: string, toDeviceId: number, plaintext: string | Uint8Array): Promise<Ciphertext> {
    const bytes =
      typeof plaintext === 'string' ? new Uint8Array(Buffer.from(plaintext, 'utf8')) : new Uint8Array(plaintext);
    const c = await signalEncrypt(
      bytes,
      ProtocolAddress.new(toUserId, toDeviceId),
      this.address(),
      this.sessions,
      this.identities,
    );
    const kind = c.type();
    if (kind !== CiphertextMessageType.PreKey && kind !== CiphertextMessageType.Whisper) {
      throw new Error(`unexpected ciphertext type ${kind}`);
    }
    return { type: kind === CiphertextMessageType.PreKey ? 'prekey' : 'message', content: b64(c.serialize()) };
  }

  async decryptBytes(
    fromUserId: string,
    fromDeviceId: number,
    envelope: { type: string; content: string | null },
  ): Promise<Uint8Array> {
    if (!envelope.content) throw new Error('envelope has no content');
    const from = ProtocolAddress.new(fromUserId, fromDeviceId);
    const bytes = fromB64(envelope.content);
    if (envelope.type === 'prekey') {
      return signalDecryptPreKey(
        PreKeySignalMessage.deserialize(bytes),
        from,
        this.address(),
        this.sessions,
        this.identities,
        this.preKeys,
        this.signedPreKeys,
        this.kyberPreKeys,
      );
    }
    if (envelope.type === 'message') {
      return signalDecrypt(SignalMessage.deserialize(bytes), from, this.address(), this.sessions, this.identities);
    }
    throw new Error(`unknown envelope type ${JSON.stringify(envelope.type)}`);
  }

  async decrypt(
    fromUserId: string,
    fromDeviceId: number,
    envelope: { type: string; content: string | null },
  ): Promise<string> {
    return Buffer.from(await this.decryptBytes(fromUserId, fromDeviceId, envelope)).toString('utf8');
  }

  async hasSession(userId: string, deviceId: number): Promise<boolean> {
    const r = await this.sessions.getSession(ProtocolAddress.new(userId, deviceId));
    return r?.hasCurrentState() ?? false;
  }

  /** The remote device's registration id as recorded in our session with it. */
  async remoteRegistrationId(userId: string, deviceId: number): Promise<number | null> {
    const r = await this.sessions.getSession(ProtocolAddress.new(userId, deviceId));
    return r?.hasCurrentState() ? r.remoteRegistrationId() : null;
  }

  /** Devices of `userId` we hold sessions with. */
  sessionDevices(userId: string): Promise<number[]> {
    return this.sessions.devicesOf(userId);
  }

  async deleteSession(userId: string, deviceId: number): Promise<void> {
    await this.sessions.deleteSession(ProtocolAddress.new(userId, deviceId));
  }

  hasPreKey(keyId: number): Promise<boolean> {
    return this.preKeys.has(keyId);
  }

  hasKyberPreKey(keyId: number): Promise<boolean> {
    return this.kyberPreKeys.has(keyId);
  }

  remoteIdentity(userId: string, deviceId: number): Promise<PublicKey | null> {
    return this.identities.getIdentity(ProtocolAddress.new(userId, deviceId));
  }
}
