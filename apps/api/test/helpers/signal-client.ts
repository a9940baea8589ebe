/**
 * A small, reusable end-to-end-encrypted client built on the REAL libsignal (`@signalapp/libsignal-client`).
 *
 * Integration tests use it to prove that genuine Signal clients work against our server: a device generates its
 * keys, uploads them in the server's JSON wire format ({@link KeyUpload}), another device fetches a bundle
 * ({@link BundleJson}), builds a libsignal `PreKeyBundle` from that JSON alone, and the two exchange
 * `PreKeySignalMessage` / `SignalMessage` envelopes.
 *
 * Everything lives in memory; nothing here talks to the network.
 *
 * Wire conventions (API contract): binary values are standard base64 WITH padding; EC public keys are libsignal's
 * 33-byte serialized form (0x05 prefix); signatures are 64 bytes made by the identity private key over the serialized
 * public key; Kyber public keys are libsignal's serialized KEM public key (1569 bytes, Kyber1024).
 */
import {
  CiphertextMessageType,
  type Direction,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KEMKeyPair,
  KEMPublicKey,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  SessionRecord,
  SessionStore,
  SignalMessage,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  processPreKeyBundle,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from '@signalapp/libsignal-client';

// ---------------------------------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------------------------------

export interface PreKeyJson {
  keyId: number;
  publicKey: string;
}

export interface SignedPreKeyJson {
  keyId: number;
  publicKey: string;
  signature: string;
}

/** Body of POST /api/v1/keys/upload. */
export interface KeyUpload {
  identityKey: string;
  registrationId: number;
  signedPreKey: SignedPreKeyJson;
  preKeys: PreKeyJson[];
  kyberPreKeys: SignedPreKeyJson[];
  /** Absent when generated with `lastResort: false`. */
  kyberLastResortPreKey?: SignedPreKeyJson;
}

/** One device inside a bundle reply. */
export interface DeviceBundleJson {
  deviceId: number;
  registrationId: number;
  signedPreKey: SignedPreKeyJson;
  /** Absent when the device's one-time prekeys are exhausted. */
  preKey?: PreKeyJson | null;
  /** A one-time Kyber prekey, or the last-resort one. Required by libsignal 0.103 to build a session. */
  kyberPreKey?: SignedPreKeyJson | null;
}

/** Reply of GET /api/v1/keys/bundle/:userId. */
export interface BundleJson {
  userId: string;
  identityKey: string;
  devices: DeviceBundleJson[];
}

export type EnvelopeType = 'prekey' | 'message';

export interface Envelope {
  type: EnvelopeType;
  content: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------------------------------------------

/** Standard base64 with padding. */
export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes standard, padded base64. Strict on purpose: Node's decoder silently accepts url-safe, unpadded or garbage
 * input, which would hide a server that drifts from the wire contract.
 */
export function fromB64(s: string): Uint8Array<ArrayBuffer> {
  if (typeof s !== 'string' || !BASE64_RE.test(s)) {
    throw new Error(`not standard padded base64: ${JSON.stringify(s)?.slice(0, 80)}`);
  }
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function utf8(s: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

/** libsignal key ids are 24-bit on the wire (Signal's medium: 0..0xFFFFFF). */
export const MAX_KEY_ID = 0xffffff;

function wrapId(id: number): number {
  // Keep ids in 1..MAX_KEY_ID (0 is legal but avoided so it never looks like "unset").
  return ((((id - 1) % MAX_KEY_ID) + MAX_KEY_ID) % MAX_KEY_ID) + 1;
}

function checkKeyId(id: number, what: string): number {
  if (!Number.isInteger(id) || id < 0 || id > MAX_KEY_ID) throw new Error(`${what} ${id} outside 0..${MAX_KEY_ID}`);
  return id;
}

// ---------------------------------------------------------------------------------------------------------------
// In-memory libsignal stores
// ---------------------------------------------------------------------------------------------------------------

class MemorySessionStore extends SessionStore {
  // Serialized records, so no native handle is ever shared between a caller and the store.
  private readonly sessions = new Map<string, Uint8Array<ArrayBuffer>>();

  async saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.sessions.set(name.toString(), record.serialize());
  }

  async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    const raw = this.sessions.get(name.toString());
    return raw ? SessionRecord.deserialize(raw) : null;
  }

  async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return addresses.map((address) => {
      const raw = this.sessions.get(address.toString());
      if (!raw) throw new Error(`no session for ${address.toString()}`);
      return SessionRecord.deserialize(raw);
    });
  }
}

class MemoryIdentityKeyStore extends IdentityKeyStore {
  private readonly known = new Map<string, PublicKey>();

  constructor(
    private readonly identity: IdentityKeyPair,
    private readonly registrationId: number,
  ) {
    super();
  }

  async getIdentityKey(): Promise<PrivateKey> {
    return this.identity.privateKey;
  }

  override async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return this.identity;
  }

  async getLocalRegistrationId(): Promise<number> {
    return this.registrationId;
  }

  /** Trust on first use: always accept and store; report whether an existing, different key was replaced. */
  async saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const id = name.toString();
    const existing = this.known.get(id);
    this.known.set(id, key);
    return existing && !existing.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged;
  }

  /** Trust on first use: unknown identities are trusted (and stored by libsignal via saveIdentity). */
  async isTrustedIdentity(_name: ProtocolAddress, _key: PublicKey, _direction: Direction): Promise<boolean> {
    return true;
  }

  async getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    return this.known.get(name.toString()) ?? null;
  }
}

class MemoryPreKeyStore extends PreKeyStore {
  private readonly keys = new Map<number, Uint8Array<ArrayBuffer>>();

  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.put(id, record);
  }

  put(id: number, record: PreKeyRecord): void {
    this.keys.set(id, record.serialize());
  }

  async getPreKey(id: number): Promise<PreKeyRecord> {
    const raw = this.keys.get(id);
    if (!raw) throw new Error(`no prekey ${id}`);
    return PreKeyRecord.deserialize(raw);
  }

  async removePreKey(id: number): Promise<void> {
    this.keys.delete(id);
  }

  has(id: number): boolean {
    return this.keys.has(id);
  }

  get size(): number {
    return this.keys.size;
  }
}

class MemorySignedPreKeyStore extends SignedPreKeyStore {
  private readonly keys = new Map<number, Uint8Array<ArrayBuffer>>();

  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.put(id, record);
  }

  put(id: number, record: SignedPreKeyRecord): void {
    this.keys.set(id, record.serialize());
  }

  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const raw = this.keys.get(id);
    if (!raw) throw new Error(`no signed prekey ${id}`);
    return SignedPreKeyRecord.deserialize(raw);
  }
}

class MemoryKyberPreKeyStore extends KyberPreKeyStore {
  private readonly keys = new Map<number, Uint8Array<ArrayBuffer>>();
  private readonly lastResort = new Set<number>();

  async saveKyberPreKey(kyberPreKeyId: number, record: KyberPreKeyRecord): Promise<void> {
    this.put(kyberPreKeyId, record, false);
  }

  put(kyberPreKeyId: number, record: KyberPreKeyRecord, lastResort: boolean): void {
    this.keys.set(kyberPreKeyId, record.serialize());
    if (lastResort) this.lastResort.add(kyberPreKeyId);
    else this.lastResort.delete(kyberPreKeyId);
  }

  async getKyberPreKey(kyberPreKeyId: number): Promise<KyberPreKeyRecord> {
    const raw = this.keys.get(kyberPreKeyId);
    if (!raw) throw new Error(`no kyber prekey ${kyberPreKeyId}`);
    return KyberPreKeyRecord.deserialize(raw);
  }

  /** One-time Kyber keys are consumed; the last-resort key stays (it is reused until replaced). */
  async markKyberPreKeyUsed(kyberPreKeyId: number, _signedPreKeyId: number, _baseKey: PublicKey): Promise<void> {
    if (!this.lastResort.has(kyberPreKeyId)) this.keys.delete(kyberPreKeyId);
  }

  has(id: number): boolean {
    return this.keys.has(id);
  }

  get size(): number {
    return this.keys.size;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The device
// ---------------------------------------------------------------------------------------------------------------

export interface CreateDeviceOptions {
  userId: string;
  /** libsignal requires 1..127. */
  deviceId: number;
  identity?: IdentityKeyPair;
  registrationId?: number;
}

export interface GenerateKeysOptions {
  /** Number of one-time EC prekeys (default 100). */
  preKeys?: number;
  /** Number of one-time Kyber prekeys (default 10). */
  kyberPreKeys?: number;
  /** Also generate a last-resort Kyber prekey (default true). */
  lastResort?: boolean;
  /** Id of the new signed prekey (default: next in sequence, starting at 1). */
  signedPreKeyId?: number;
  /**
   * First id for this batch. One-time EC prekeys take `startId..`, Kyber prekeys continue after them and the
   * last-resort Kyber key comes last. Default: continue after the previous batch (starting at 1).
   */
  startId?: number;
}

export class SignalDevice {
  readonly userId: string;
  readonly deviceId: number;
  readonly registrationId: number;
  readonly identity: IdentityKeyPair;

  private readonly sessionStore = new MemorySessionStore();
  private readonly identityStore: MemoryIdentityKeyStore;
  private readonly preKeyStore = new MemoryPreKeyStore();
  private readonly signedPreKeyStore = new MemorySignedPreKeyStore();
  private readonly kyberPreKeyStore = new MemoryKyberPreKeyStore();

  private nextKeyId = 1;
  private nextSignedPreKeyId = 1;

  private constructor(opts: Required<CreateDeviceOptions>) {
    this.userId = opts.userId;
    this.deviceId = opts.deviceId;
    this.registrationId = opts.registrationId;
    this.identity = opts.identity;
    this.identityStore = new MemoryIdentityKeyStore(this.identity, this.registrationId);
  }

  static async create(opts: CreateDeviceOptions): Promise<SignalDevice> {
    if (!Number.isInteger(opts.deviceId) || opts.deviceId < 1 || opts.deviceId > 127) {
      throw new Error(`deviceId ${opts.deviceId} outside libsignal's 1..127`);
    }
    const registrationId = opts.registrationId ?? 1 + Math.floor(Math.random() * 16380);
    return new SignalDevice({
      userId: opts.userId,
      deviceId: opts.deviceId,
      identity: opts.identity ?? IdentityKeyPair.generate(),
      registrationId,
    });
  }

  address(): ProtocolAddress {
    return ProtocolAddress.new(this.userId, this.deviceId);
  }

  /** Base64 of the serialized identity public key (33 bytes, 0x05 prefix). */
  identityKeyB64(): string {
    return b64(this.identity.publicKey.serialize());
  }

  /** Whether a one-time EC prekey with this id is still held (i.e. not consumed by an incoming session). */
  hasPreKey(keyId: number): boolean {
    return this.preKeyStore.has(keyId);
  }

  /** Whether a Kyber prekey (one-time or last-resort) with this id is still held. */
  hasKyberPreKey(keyId: number): boolean {
    return this.kyberPreKeyStore.has(keyId);
  }

  /**
   * Generates a new signed prekey plus one-time EC / Kyber prekeys (and optionally a last-resort Kyber key), stores
   * the private halves and returns the upload body. Can be called again to replenish; earlier keys stay valid.
   */
  generateKeys(opts: GenerateKeysOptions = {}): KeyUpload {
    const preKeyCount = opts.preKeys ?? 100;
    const kyberCount = opts.kyberPreKeys ?? 10;
    const lastResort = opts.lastResort ?? true;
    const now = Date.now();
    const idKey = this.identity.privateKey;

    if (opts.startId !== undefined) this.nextKeyId = checkKeyId(opts.startId, 'startId');
    const takeId = (): number => {
      const id = wrapId(this.nextKeyId);
      this.nextKeyId = wrapId(id + 1);
      return id;
    };

    // Signed EC prekey.
    const signedId = checkKeyId(opts.signedPreKeyId ?? wrapId(this.nextSignedPreKeyId), 'signedPreKeyId');
    this.nextSignedPreKeyId = wrapId(signedId + 1);
    const signedPriv = PrivateKey.generate();
    const signedPub = signedPriv.getPublicKey();
    const signedSig = idKey.sign(signedPub.serialize());
    this.signedPreKeyStore.put(signedId, SignedPreKeyRecord.new(signedId, now, signedPub, signedPriv, signedSig));

    // One-time EC prekeys.
    const preKeys: PreKeyJson[] = [];
    for (let i = 0; i < preKeyCount; i++) {
      const id = takeId();
      const priv = PrivateKey.generate();
      const pub = priv.getPublicKey();
      this.preKeyStore.put(id, PreKeyRecord.new(id, pub, priv));
      preKeys.push({ keyId: id, publicKey: b64(pub.serialize()) });
    }

    // Kyber prekeys (one-time and last resort), signed by the identity key over the serialized KEM public key.
    const makeKyber = (id: number): { record: KyberPreKeyRecord; json: SignedPreKeyJson } => {
      const kp = KEMKeyPair.generate();
      const pub = kp.getPublicKey().serialize();
      const sig = idKey.sign(pub);
      return {
        record: KyberPreKeyRecord.new(id, now, kp, sig),
        json: { keyId: id, publicKey: b64(pub), signature: b64(sig) },
      };
    };
    const kyberPreKeys: SignedPreKeyJson[] = [];
    for (let i = 0; i < kyberCount; i++) {
      const id = takeId();
      const { record, json } = makeKyber(id);
      this.kyberPreKeyStore.put(id, record, false);
      kyberPreKeys.push(json);
    }

    const upload: KeyUpload = {
      identityKey: this.identityKeyB64(),
      registrationId: this.registrationId,
      signedPreKey: { keyId: signedId, publicKey: b64(signedPub.serialize()), signature: b64(signedSig) },
      preKeys,
      kyberPreKeys,
    };
    if (lastResort) {
      const id = takeId();
      const { record, json } = makeKyber(id);
      this.kyberPreKeyStore.put(id, record, true);
      upload.kyberLastResortPreKey = json;
    }
    return upload;
  }

  /**
   * Builds a libsignal PreKeyBundle from the JSON bundle reply alone (everything base64-decoded) for one of the
   * remote user's devices, and processes it, establishing an outgoing session.
   */
  async startSession(bundle: BundleJson, deviceId: number): Promise<void> {
    const device = bundle.devices.find((d) => d.deviceId === deviceId);
    if (!device) throw new Error(`bundle for ${bundle.userId} has no device ${deviceId}`);
    if (!device.kyberPreKey) {
      throw new Error(`bundle for ${bundle.userId}.${deviceId} has no kyberPreKey (required by libsignal)`);
    }
    const preKey = device.preKey ?? null;
    const libBundle = PreKeyBundle.new(
      device.registrationId,
      device.deviceId,
      preKey ? preKey.keyId : null,
      preKey ? PublicKey.deserialize(fromB64(preKey.publicKey)) : null,
      device.signedPreKey.keyId,
      PublicKey.deserialize(fromB64(device.signedPreKey.publicKey)),
      fromB64(device.signedPreKey.signature),
      PublicKey.deserialize(fromB64(bundle.identityKey)),
      device.kyberPreKey.keyId,
      KEMPublicKey.deserialize(fromB64(device.kyberPreKey.publicKey)),
      fromB64(device.kyberPreKey.signature),
    );
    await processPreKeyBundle(
      libBundle,
      ProtocolAddress.new(bundle.userId, deviceId),
      this.address(),
      this.sessionStore,
      this.identityStore,
    );
  }

  async encrypt(toUserId: string, toDeviceId: number, plaintext: string): Promise<Envelope> {
    const ciphertext = await signalEncrypt(
      utf8(plaintext),
      ProtocolAddress.new(toUserId, toDeviceId),
      this.address(),
      this.sessionStore,
      this.identityStore,
    );
    const kind = ciphertext.type();
    let type: EnvelopeType;
    if (kind === CiphertextMessageType.PreKey) type = 'prekey';
    else if (kind === CiphertextMessageType.Whisper) type = 'message';
    else throw new Error(`unexpected ciphertext message type ${kind}`);
    return { type, content: b64(ciphertext.serialize()) };
  }

  async decrypt(
    fromUserId: string,
    fromDeviceId: number,
    envelope: { type: string; content: string },
  ): Promise<string> {
    const from = ProtocolAddress.new(fromUserId, fromDeviceId);
    const bytes = fromB64(envelope.content);
    let plain: Uint8Array<ArrayBuffer>;
    if (envelope.type === 'prekey') {
      plain = await signalDecryptPreKey(
        PreKeySignalMessage.deserialize(bytes),
        from,
        this.address(),
        this.sessionStore,
        this.identityStore,
        this.preKeyStore,
        this.signedPreKeyStore,
        this.kyberPreKeyStore,
      );
    } else if (envelope.type === 'message') {
      plain = await signalDecrypt(
        SignalMessage.deserialize(bytes),
        from,
        this.address(),
        this.sessionStore,
        this.identityStore,
      );
    } else {
      throw new Error(`unknown envelope type ${JSON.stringify(envelope.type)}`);
    }
    return Buffer.from(plain).toString('utf8');
  }

  async hasSession(userId: string, deviceId: number): Promise<boolean> {
    const record = await this.sessionStore.getSession(ProtocolAddress.new(userId, deviceId));
    return record?.hasCurrentState() ?? false;
  }

  /** The identity key this device has stored (TOFU) for a remote address, if any. */
  async remoteIdentity(userId: string, deviceId: number): Promise<PublicKey | null> {
    return this.identityStore.getIdentity(ProtocolAddress.new(userId, deviceId));
  }
}
