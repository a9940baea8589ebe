import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Actor } from '../../domain/actor.js';
import { AppError } from '../../domain/errors.js';
import { deviceTopic } from '../../domain/topics.js';
import type { Broker } from '../../infra/broker/broker.js';
import type { ClaimedBundle, ClaimRequest, KeysRepo, KeyWrite, StoredKey } from '../../infra/db/repos/keys.repo.js';
import type { Kv } from '../../infra/kv/kv.js';
import { GroupCommit } from '../group-commit.js';
import type { Limits } from '../rate-limits.js';
import { isEcPublicKey, isKyberPublicKey, sameBytes, toB64, toBytes, verifySignature } from './key-crypto.js';
import type { Bundle, DeviceBundle, KeyCounts, SignedPreKeyInput, UploadKeysInput } from './keys.schemas.js';

type Bytes = Uint8Array<ArrayBuffer>;

export interface KeysLowEvent {
  type: 'keys.low';
  preKeyCount: number;
  kyberPreKeyCount: number;
}

export interface KeysDeps {
  config: Config;
  repo: KeysRepo;
  kv: Kv;
  broker: Broker;
  limits: Limits;
  log: Logger;
  /** The user's registered devices changed (a first upload or a reinstall): caches must drop them. */
  devicesChanged: (userId: string) => Promise<void>;
}

const lowFlag = (userId: string, deviceId: number) => `keys-low:${userId}:${deviceId}`;

/** Bundle claims per statement, and claim statements in flight per node. */
const CLAIM_BATCH = 256;
const CLAIMS_IN_FLIGHT = 2;

export class KeysService {
  private readonly rules;
  /**
   * Claims are group-committed like message sends: the claims that arrive while a statement is
   * running go together in the next one (one round trip for all of them, instead of one each).
   */
  private readonly claims: GroupCommit<ClaimRequest, ClaimedBundle>;

  constructor(private readonly d: KeysDeps) {
    this.rules = {
      requester: { name: 'bundle-requester', ...d.config.RATE_LIMIT_BUNDLE_REQUESTER },
      target: { name: 'bundle-target', ...d.config.RATE_LIMIT_BUNDLE_TARGET },
    };
    this.claims = new GroupCommit((batch) => d.repo.claimBundles(batch, d.config.PREKEY_LOW_WATERMARK + 1), {
      maxBatch: CLAIM_BATCH,
      maxInFlight: CLAIMS_IN_FLIGHT,
    });
  }

  async upload(actor: Actor, input: UploadKeysInput): Promise<KeyCounts> {
    const stored = await this.d.repo.identity(actor.userId);
    const identity = input.identityKey ? toBytes(input.identityKey) : stored;
    if (!identity)
      throw new AppError('VALIDATION_FAILED', 'identityKey: required on the first upload', { field: 'identityKey' });
    const write = this.checkedKeys(identity, input);

    let registrationChanged = false;
    await this.d.repo.transaction(async (tx) => {
      const current = await this.d.repo.lockIdentity(tx, actor.userId);
      const registration = await this.d.repo.deviceRegistrationId(tx, actor.userId, actor.deviceId);
      registrationChanged = input.registrationId !== undefined && input.registrationId !== registration;
      if (registration === undefined) throw new AppError('UNAUTHORIZED', 'device is unlinked');
      if (registration === null) {
        for (const field of ['identityKey', 'registrationId', 'signedPreKey'] as const) {
          if (input[field] === undefined && !(field === 'identityKey' && current)) {
            throw new AppError('VALIDATION_FAILED', `${field}: required on the device's first upload`, { field });
          }
        }
      }
      if (!current) {
        await this.d.repo.setIdentity(tx, actor.userId, identity, false, actor.deviceId);
      } else if (!sameBytes(current, identity)) {
        if (!input.identityKey) throw new AppError('CONFLICT', 'the identity key changed meanwhile; retry');
        if (actor.deviceId !== 1) throw new AppError('CONFLICT', 'only device 1 may change the identity key');
        await this.d.repo.setIdentity(tx, actor.userId, identity, true, actor.deviceId);
      }
      if (registration !== null && input.registrationId !== undefined && input.registrationId !== registration) {
        // A new registration id means a reinstall: keys of the previous install must never be handed out.
        await this.d.repo.discardDeviceKeys(tx, actor.userId, actor.deviceId);
        if (!input.signedPreKey)
          throw new AppError('VALIDATION_FAILED', 'signedPreKey: required with a new registrationId', {
            field: 'signedPreKey',
          });
      }
      await this.d.repo.write(tx, actor.userId, actor.deviceId, write);
    });
    if (registrationChanged) await this.d.devicesChanged(actor.userId);
    const counts = await this.counts(actor);
    if (counts.preKeyCount >= this.d.config.PREKEY_LOW_WATERMARK)
      await this.d.kv.del(lowFlag(actor.userId, actor.deviceId));
    return counts;
  }

  /** Decodes and checks every key of an upload; one bad key rejects the whole upload. */
  private checkedKeys(identity: Bytes, input: UploadKeysInput): KeyWrite {
    const ec = (field: string, k: { keyId: number; publicKey: string }): StoredKey => {
      const publicKey = toBytes(k.publicKey);
      if (!isEcPublicKey(publicKey))
        throw new AppError('VALIDATION_FAILED', `${field}.publicKey: not a valid EC public key`, { field });
      return { keyId: k.keyId, publicKey };
    };
    const signed = (
      field: string,
      k: { keyId: number; publicKey: string; signature: string },
      kyber: boolean,
    ): Required<StoredKey> => {
      const publicKey = toBytes(k.publicKey);
      if (!(kyber ? isKyberPublicKey(publicKey) : isEcPublicKey(publicKey))) {
        throw new AppError(
          'VALIDATION_FAILED',
          `${field}.publicKey: not a valid ${kyber ? 'Kyber' : 'EC'} public key`,
          { field },
        );
      }
      const signature = toBytes(k.signature);
      if (!verifySignature(identity, publicKey, signature)) {
        throw new AppError('INVALID_SIGNATURE', `${field}.signature does not verify against the identity key`, {
          field,
        });
      }
      return { keyId: k.keyId, publicKey, signature };
    };
    if (input.identityKey && !isEcPublicKey(identity)) {
      throw new AppError('VALIDATION_FAILED', 'identityKey: not a valid EC public key', { field: 'identityKey' });
    }
    return {
      registrationId: input.registrationId,
      signedPreKey: input.signedPreKey && signed('signedPreKey', input.signedPreKey, false),
      preKeys: (input.preKeys ?? []).map((k, i) => ec(`preKeys.${i}`, k)),
      kyberPreKeys: (input.kyberPreKeys ?? []).map((k, i) => signed(`kyberPreKeys.${i}`, k, true)),
      lastResort: input.kyberLastResortPreKey && signed('kyberLastResortPreKey', input.kyberLastResortPreKey, true),
    };
  }

  async rotateSignedPreKey(actor: Actor, input: SignedPreKeyInput): Promise<void> {
    const identity = await this.d.repo.identity(actor.userId);
    if (!identity) throw new AppError('NOT_FOUND', 'upload an identity key first');
    const write = this.checkedKeys(identity, { signedPreKey: input });
    await this.d.repo.transaction(async (tx) => {
      if (!sameBytes(await this.d.repo.lockIdentity(tx, actor.userId), identity)) {
        throw new AppError('CONFLICT', 'the identity key changed meanwhile; retry');
      }
      await this.d.repo.write(tx, actor.userId, actor.deviceId, write);
    });
  }

  async bundle(actor: Actor, userId: string, deviceId?: number): Promise<Bundle> {
    // Both limits are spent from this node's slices of the shared budgets (Limits.consumeLeased):
    // they hold across nodes, and a claim usually waits for no Redis round trip — which, under
    // load, was half of a claim's time in the API (an event-loop turn for the reply). A slice is a
    // twentieth of the rule, so at the defaults (60/min per requester, 20/h per requester and
    // target) it is 3 and 1: the per-pair limit stays exact. A claim refused by either is refused.
    const { limits } = this.d;
    const pair = `${actor.userId}:${userId}`;
    const requesterOk = limits.tryConsumeLeased(this.rules.requester, actor.userId);
    const targetOk = limits.tryConsumeLeased(this.rules.target, pair);
    if (!requesterOk || !targetOk) {
      await Promise.all([
        requesterOk || limits.consumeLeased(this.rules.requester, actor.userId),
        targetOk || limits.consumeLeased(this.rules.target, pair),
      ]);
    }
    const watermark = this.d.config.PREKEY_LOW_WATERMARK;
    // One statement (shared with the claims arriving meanwhile): identity, devices, signed prekeys
    // and the claims of every device.
    const source = await this.claims.submit(deviceId === undefined ? { userId } : { userId, deviceId });
    if (!source?.identity) throw new AppError('NOT_FOUND', 'no keys for this user');
    if (source.devices.length === 0)
      throw new AppError('NOT_FOUND', deviceId ? `no keys for device ${deviceId}` : 'no keys for this user');

    const out: DeviceBundle[] = [];
    for (const dev of source.devices) {
      const { preKey, kyber, unusedBefore } = dev;
      out.push({
        deviceId: dev.deviceId,
        registrationId: dev.registrationId,
        signedPreKey: {
          keyId: dev.signedPreKey.keyId,
          publicKey: toB64(dev.signedPreKey.publicKey),
          signature: toB64(dev.signedPreKey.signature),
        },
        ...(preKey ? { preKey: { keyId: preKey.keyId, publicKey: toB64(preKey.publicKey) } } : {}),
        ...(kyber?.signature
          ? {
              kyberPreKey: { keyId: kyber.keyId, publicKey: toB64(kyber.publicKey), signature: toB64(kyber.signature) },
            }
          : {}),
      });
      // This claim took the count from unusedBefore to unusedBefore - 1: below the watermark now?
      if (preKey && unusedBefore - 1 < watermark) await this.keysLow(userId, dev.deviceId);
    }
    return { userId, identityKey: toB64(source.identity), devices: out };
  }

  /** Sends `keys.low` once per crossing below the watermark (the flag is re-armed by an upload). */
  private async keysLow(userId: string, deviceId: number): Promise<void> {
    if (!(await this.d.kv.setIfAbsent(lowFlag(userId, deviceId), '1', 7 * 86_400_000))) return;
    const c = await this.d.repo.counts(userId, deviceId);
    const event: KeysLowEvent = { type: 'keys.low', preKeyCount: c.ec, kyberPreKeyCount: c.kyber };
    await this.d.broker.publish(deviceTopic(userId, deviceId), JSON.stringify(event)).catch((err: unknown) => {
      this.d.log.warn({ err: String(err) }, 'could not publish keys.low');
    });
  }

  /** The `keys.low` event due on connect, or null while the device has enough prekeys. */
  async lowKeysOnConnect(actor: Actor): Promise<KeysLowEvent | null> {
    const c = await this.counts(actor);
    return c.preKeyCount < this.d.config.PREKEY_LOW_WATERMARK ? { type: 'keys.low', ...c } : null;
  }

  async counts(actor: Actor): Promise<KeyCounts> {
    const c = await this.d.repo.counts(actor.userId, actor.deviceId);
    return { preKeyCount: c.ec, kyberPreKeyCount: c.kyber };
  }

  async markUsed(actor: Actor, keyId: number): Promise<void> {
    if (!(await this.d.repo.markUsed(actor.userId, actor.deviceId, keyId))) {
      throw new AppError('NOT_FOUND', `this device has no prekey ${keyId}`);
    }
  }
}
