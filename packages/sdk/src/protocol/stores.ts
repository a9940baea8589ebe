import {
  type Direction,
  IdentityChange,
  type IdentityKeyPair,
  IdentityKeyStore,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyRecord,
  PreKeyStore,
  type PrivateKey,
  type ProtocolAddress,
  PublicKey,
  SessionRecord,
  SessionStore,
  SignedPreKeyRecord,
  SignedPreKeyStore,
} from '@signalapp/libsignal-client';
import type { KeyValueStore } from '../kv.js';

// libsignal's store interfaces over one KeyValueStore; keys are namespaced by what they hold.

export class KvSessionStore extends SessionStore {
  constructor(private readonly kv: KeyValueStore) {
    super();
  }

  async saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    await this.kv.set(`session:${name.toString()}`, record.serialize());
  }

  async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    const raw = await this.kv.get(`session:${name.toString()}`);
    return raw ? SessionRecord.deserialize(raw) : null;
  }

  async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return Promise.all(
      addresses.map(async (a) => {
        const s = await this.getSession(a);
        if (!s) throw new Error(`no session for ${a.toString()}`);
        return s;
      }),
    );
  }

  async deleteSession(name: ProtocolAddress): Promise<void> {
    await this.kv.delete(`session:${name.toString()}`);
  }

  /** Device ids we hold sessions with for `userId`. */
  async devicesOf(userId: string): Promise<number[]> {
    const prefix = `session:${userId}.`;
    return (await this.kv.keys(prefix)).map((k) => Number(k.slice(prefix.length))).sort((a, b) => a - b);
  }
}

/** Trust on first use: a changed remote identity is accepted and reported as replaced. */
export class KvIdentityKeyStore extends IdentityKeyStore {
  constructor(
    private readonly kv: KeyValueStore,
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

  async saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const existing = await this.getIdentity(name);
    await this.kv.set(`identity:${name.toString()}`, key.serialize());
    return existing && !existing.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged;
  }

  async isTrustedIdentity(_name: ProtocolAddress, _key: PublicKey, _direction: Direction): Promise<boolean> {
    return true;
  }

  async getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    const raw = await this.kv.get(`identity:${name.toString()}`);
    return raw ? PublicKey.deserialize(raw) : null;
  }
}

export class KvPreKeyStore extends PreKeyStore {
  constructor(private readonly kv: KeyValueStore) {
    super();
  }

  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    await this.kv.set(`prekey:${id}`, record.serialize());
  }

  async getPreKey(id: number): Promise<PreKeyRecord> {
    const raw = await this.kv.get(`prekey:${id}`);
    if (!raw) throw new Error(`no prekey ${id}`);
    return PreKeyRecord.deserialize(raw);
  }

  async removePreKey(id: number): Promise<void> {
    await this.kv.delete(`prekey:${id}`);
  }

  async has(id: number): Promise<boolean> {
    return (await this.kv.get(`prekey:${id}`)) !== null;
  }
}

export class KvSignedPreKeyStore extends SignedPreKeyStore {
  constructor(private readonly kv: KeyValueStore) {
    super();
  }

  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    await this.kv.set(`signed:${id}`, record.serialize());
  }

  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const raw = await this.kv.get(`signed:${id}`);
    if (!raw) throw new Error(`no signed prekey ${id}`);
    return SignedPreKeyRecord.deserialize(raw);
  }
}

/** One-time Kyber keys are consumed on use; the last-resort key stays until replaced. */
export class KvKyberPreKeyStore extends KyberPreKeyStore {
  constructor(private readonly kv: KeyValueStore) {
    super();
  }

  async saveKyberPreKey(id: number, record: KyberPreKeyRecord, lastResort = false): Promise<void> {
    await this.kv.set(`kyber:${id}`, record.serialize());
    if (lastResort) await this.kv.set(`kyber-last-resort:${id}`, new Uint8Array([1]));
  }

  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const raw = await this.kv.get(`kyber:${id}`);
    if (!raw) throw new Error(`no kyber prekey ${id}`);
    return KyberPreKeyRecord.deserialize(raw);
  }

  async markKyberPreKeyUsed(id: number, _signedPreKeyId: number, _baseKey: PublicKey): Promise<void> {
    if (!(await this.kv.get(`kyber-last-resort:${id}`))) await this.kv.delete(`kyber:${id}`);
  }

  async has(id: number): Promise<boolean> {
    return (await this.kv.get(`kyber:${id}`)) !== null;
  }
}
