import type { Logger } from 'pino';
import { DEVICES_CHANGED_TOPIC } from '../../domain/topics.js';
import type { Broker } from '../../infra/broker/broker.js';
import type { MessagesRepo } from '../../infra/db/repos/messages.repo.js';

export interface RecipientDevices {
  exists: boolean;
  devices: Array<{ deviceId: number; registrationId: number | null }>;
}

/**
 * Each node's cache of recipients' registered devices, so a send reads no device list. A key upload
 * that registers a device, a reinstall and an unlink call `changed(userId)`: this node drops the
 * entry at once and every other node when the broker message arrives. The cache only ever decides
 * quickly; a send it would refuse (409/410/404) is checked again against the database first, and
 * entries expire after `ttlMs` in case a broker message was lost.
 */
export class DeviceDirectory {
  private readonly cache = new Map<string, { at: number; value: RecipientDevices }>();
  /** Bumped by every invalidation: a read that started before one must not store what it read. */
  private epoch = 0;

  constructor(
    private readonly repo: MessagesRepo,
    private readonly broker: Broker,
    private readonly log: Logger,
    private readonly ttlMs = 30_000,
    private readonly maxEntries = 100_000,
  ) {}

  async start(): Promise<void> {
    await this.broker.subscribe(DEVICES_CHANGED_TOPIC, (userId) => this.drop(userId));
  }

  async get(userId: string): Promise<RecipientDevices> {
    const hit = this.cache.get(userId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    return this.fresh(userId);
  }

  /** Straight from the database (and cached). */
  async fresh(userId: string): Promise<RecipientDevices> {
    const epoch = this.epoch;
    const devices = await this.repo.registeredDevices(userId);
    const value = { devices, exists: devices.length > 0 || (await this.repo.userExists(userId)) };
    if (epoch === this.epoch) {
      if (this.cache.size >= this.maxEntries) {
        // Oldest first (Map keeps insertion order): a bounded cache, not an unbounded map.
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.delete(userId);
      this.cache.set(userId, { at: Date.now(), value });
    }
    return value;
  }

  /** The user's devices changed: forget them here, and tell every node. */
  async changed(userId: string): Promise<void> {
    this.drop(userId);
    await this.broker.publish(DEVICES_CHANGED_TOPIC, userId).catch((err: unknown) => {
      this.log.warn({ err: String(err) }, 'could not publish a device-list change; other nodes catch up by TTL');
    });
  }

  private drop(userId: string): void {
    this.epoch++;
    this.cache.delete(userId);
  }
}
