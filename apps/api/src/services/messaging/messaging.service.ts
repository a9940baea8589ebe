import { randomFillSync } from 'node:crypto';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { Config } from '../../config/index.js';
import type { Actor } from '../../domain/actor.js';
import { AppError } from '../../domain/errors.js';
import { base64Bytes } from '../../domain/schemas.js';
import { deviceTopic, userTopic } from '../../domain/topics.js';
import type { Broker } from '../../infra/broker/broker.js';
import type { Kv } from '../../infra/kv/kv.js';
import type {
  AckChange,
  AckItem,
  BatchedSend,
  MessagesRepo,
  NewEnvelope,
  StatusChange,
} from '../../infra/db/repos/messages.repo.js';
import type { Metrics } from '../../observability/metrics.js';
import type { ConnectionBudget, Limits } from '../rate-limits.js';
import { DeviceDirectory } from './device-directory.js';
import { DeviceStream, envelopePayload, messageFrame, type StatusBatch } from './device-stream.js';
import { GroupCommit } from '../group-commit.js';
import { decodeCursor, encodeCursor, toEnvelope } from './envelopes.js';
import type {
  AnySendInput,
  ConversationReply,
  Envelope,
  QueueReply,
  SendInput,
  SendReply,
  StatusReply,
  StreamEvent,
} from './messaging.schemas.js';

export interface MessagingDeps {
  config: Config;
  repo: MessagesRepo;
  broker: Broker;
  kv: Kv;
  limits: Limits;
  metrics: Metrics;
  log: Logger;
  /** The `keys.low` event due when a device connects, if any (from the key directory). */
  lowKeysOnConnect: (actor: Actor) => Promise<StreamEvent | null>;
}

/** Published on a device's topic after envelopes for it commit: `seq` is the lowest new one. */
export interface WakeEvent {
  type: 'wake';
  seq: string;
}

/** The per-device stream counter outlives any connection (it only has to keep growing while one is open). */
const STREAM_GEN_TTL_MS = 30 * 86_400_000;

/** One send's share of a committed batch: its envelopes' seqs and the batch's timestamp; null for a repeat. */
type StoredSend = { seqs: Map<string, bigint>; timestamp: string } | null;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * A message id: time-ordered (UUIDv7, RFC 9562), so each insert and each ack lands on the newest
 * pages of the primary-key index instead of a random leaf of a large one (PostgreSQL CPU per
 * message on the messaging bench 45 → 28 µs; BENCHMARKS.md). It reveals no more than the
 * envelope's serverTimestamp. `uuid` asks the CSPRNG for 16 bytes per id, which was 7% of the API's
 * CPU per message; its random bits come from a pool refilled 256 ids at a time instead.
 */
const idEntropy = new Uint8Array(16 * 256);
let idEntropyAt = idEntropy.length;
function messageId(): string {
  if (idEntropyAt === idEntropy.length) {
    randomFillSync(idEntropy);
    idEntropyAt = 0;
  }
  const random = idEntropy.subarray(idEntropyAt, idEntropyAt + 16);
  idEntropyAt += 16;
  return uuidv7({ random });
}
/** Envelopes larger than this travel as a wake-up (the stream reads them), not inside the broker message. */
const MAX_PUSH_BYTES = 64 * 1024;
/** Sends per group-commit statement, and statements in flight per node. */
const SEND_BATCH = 512;
const ACK_BATCH = 2_000;
const BATCHES_IN_FLIGHT = 2;

interface AckRequest {
  actor: Actor;
  ids: string[];
}

export class MessagingService {
  private readonly sendRule;
  private readonly frameRule;
  private readonly connectRule;
  /**
   * This node's live streams per device: committed envelopes are pushed to them directly, and an
   * ack from any transport trims their "already sent" set.
   */
  private readonly streams = new Map<string, Set<DeviceStream>>();
  readonly devices: DeviceDirectory;
  private readonly sends: GroupCommit<BatchedSend, StoredSend>;
  private readonly acks: GroupCommit<AckRequest, AckChange[]>;
  /** Sends with a clientMessageId being stored on this node: a concurrent repeat waits for the first. */
  private readonly claiming = new Map<string, Promise<SendReply>>();

  constructor(private readonly d: MessagingDeps) {
    this.sendRule = { name: 'send-user', ...d.config.RATE_LIMIT_MESSAGES_USER };
    this.frameRule = { name: 'ws-frames', ...d.config.RATE_LIMIT_WS_FRAMES };
    this.connectRule = { name: 'stream-open', ...d.config.RATE_LIMIT_STREAM_OPEN_DEVICE };
    this.devices = new DeviceDirectory(d.repo, d.broker, d.log);
    this.sends = new GroupCommit(
      async (batch) => {
        const { timestamp, sends } = await d.repo.storeBatch(batch);
        return sends.map((seqs) => seqs && { seqs, timestamp });
      },
      {
        maxBatch: SEND_BATCH,
        maxInFlight: BATCHES_IN_FLIGHT,
        onBatch: (n) => d.metrics.sendBatchSize.observe(n),
      },
    );
    this.acks = new GroupCommit((batch) => this.writeAcks(batch), {
      maxBatch: ACK_BATCH,
      maxInFlight: BATCHES_IN_FLIGHT,
    });
  }

  /** Subscribes this node to device-list changes (the cache of recipients' devices). */
  async start(): Promise<void> {
    await this.devices.start();
  }

  async send(actor: Actor, raw: AnySendInput): Promise<SendReply> {
    await this.d.limits.consumeLeased(this.sendRule, actor.userId);
    const cmid = raw.clientMessageId;
    if (!cmid) return this.store(actor, raw);
    // One clientMessageId per sender in flight on this node: a concurrent repeat gets the first reply
    // (and a batch never holds the same claim twice). Across nodes the unique row decides.
    const key = `${actor.userId}:${cmid}`;
    const first = this.claiming.get(key);
    if (first) {
      const reply = await first.catch(() => null);
      if (reply) return reply;
    }
    const mine = this.store(actor, raw);
    this.claiming.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.claiming.get(key) === mine) this.claiming.delete(key);
    }
  }

  private async store(actor: Actor, raw: AnySendInput): Promise<SendReply> {
    let input: SendInput;
    try {
      input = await this.checked(actor, raw, false).catch((e: unknown) => {
        // The cache only decides quickly: a refusal is confirmed against the database first.
        if (isDeviceRefusal(e)) return this.checked(actor, raw, true);
        throw e;
      });
    } catch (e) {
      // The first send wins, even if the devices changed since: a retry that would now fail the
      // device checks still gets the first reply. (A plain repeat is caught by the insert itself,
      // so the hot path reads nothing extra.)
      const prev = raw.clientMessageId ? await this.d.repo.previousReply(actor.userId, raw.clientMessageId) : null;
      if (prev) return prev as SendReply;
      throw e;
    }

    const now = new Date();
    const envelopes: NewEnvelope[] = input.messages.map((m) => ({
      id: messageId(),
      senderId: actor.userId,
      senderDeviceId: actor.deviceId,
      recipientId: input.recipientId,
      recipientDeviceId: m.deviceId,
      type: m.type,
      content: m.content,
      iv: m.iv ?? null,
      messageNumber: m.messageNumber ?? null,
      clientMessageId: input.clientMessageId ?? null,
    }));
    const reply: SendReply = {
      messages: envelopes.map((e) => ({ deviceId: e.recipientDeviceId, messageId: e.id })),
      serverTimestamp: now.toISOString(),
    };
    // Group commit: answered only once the batch holding this send has committed.
    const stored = await this.sends.submit({
      senderId: actor.userId,
      clientMessageId: input.clientMessageId ?? null,
      reply,
      envelopes,
    });
    if (stored === null) {
      const prev = input.clientMessageId ? await this.d.repo.previousReply(actor.userId, input.clientMessageId) : null;
      return (prev ?? reply) as SendReply;
    }
    this.d.metrics.messagesSent.inc(envelopes.length);
    // Stored first, then pushed: a stream that misses a push still finds the rows in its queue.
    await Promise.all(envelopes.map((e) => this.deliver(e, stored.seqs.get(e.id) as bigint, stored.timestamp)));
    return reply;
  }

  /** Normalised and checked against the recipient's devices (cached, or `fresh` from the database). */
  private async checked(actor: Actor, raw: AnySendInput, fresh: boolean): Promise<SendInput> {
    const input = await this.normalise(actor, raw, fresh);
    await this.assertCoversDevices(actor, input, fresh);
    return input;
  }

  /**
   * A committed envelope goes to the recipient device's stream without a database read: straight
   * to it when it is on this node, else inside the broker message (large ones as a wake-up, read by
   * the stream from the database).
   */
  private async deliver(e: NewEnvelope, seq: bigint, timestamp: string): Promise<void> {
    // The client's base64 as it came (the schema admits only standard, padded base64).
    const envelope: Envelope = {
      id: e.id,
      senderId: e.senderId,
      senderDeviceId: e.senderDeviceId,
      recipientId: e.recipientId,
      recipientDeviceId: e.recipientDeviceId,
      type: e.type,
      content: e.content,
      iv: e.iv,
      messageNumber: e.messageNumber,
      clientMessageId: e.clientMessageId,
      status: 'sent',
      serverTimestamp: timestamp,
    };
    const local = this.streams.get(`${e.recipientId}:${e.recipientDeviceId}`) ?? [];
    const topic = deviceTopic(e.recipientId, e.recipientDeviceId);
    if (e.content !== null && base64Bytes(e.content) > MAX_PUSH_BYTES) {
      // Large envelopes are read by the stream from the database rather than carried around.
      let woken = false;
      for (const s of local) woken = s.wake(seq) || woken;
      if (woken) return;
      return this.publish(topic, { type: 'wake', seq: seq.toString() } satisfies WakeEvent);
    }
    // Serialised once: the same JSON becomes the socket frame here or the broker message elsewhere.
    const json = JSON.stringify(envelope);
    let taken = false;
    for (const s of local) taken = s.push(seq, envelope, messageFrame(json)) || taken;
    if (taken) return;
    return this.publishRaw(topic, envelopePayload(seq, json));
  }

  private async normalise(actor: Actor, raw: AnySendInput, fresh: boolean): Promise<SendInput> {
    if ('messages' in raw) return raw;
    const devices = await this.recipientDevices(actor, raw.recipientId, fresh);
    const only = devices.length === 1 ? devices[0] : undefined;
    if (!only?.registrationId) {
      throw new AppError('MISMATCHED_DEVICES', 'the shorthand needs a recipient with exactly one registered device', {
        missingDevices: devices.map((d) => d.deviceId),
        extraDevices: [],
      });
    }
    return {
      recipientId: raw.recipientId,
      clientMessageId: raw.clientMessageId,
      messages: [
        {
          deviceId: only.deviceId,
          registrationId: only.registrationId,
          type: 'message',
          content: raw.encryptedContent,
          iv: raw.iv ?? null,
          messageNumber: raw.messageNumber ?? null,
        },
      ],
    };
  }

  private async recipientDevices(actor: Actor, recipientId: string, fresh: boolean) {
    const { devices, exists } = await (fresh ? this.devices.fresh(recipientId) : this.devices.get(recipientId));
    if (!exists) throw new AppError('NOT_FOUND', 'no such recipient');
    // Sending to yourself covers your other devices, never the sending one.
    return recipientId === actor.userId ? devices.filter((d) => d.deviceId !== actor.deviceId) : devices;
  }

  /** 409 / 410 before any write, with the device lists a client needs to fix its sessions. */
  private async assertCoversDevices(actor: Actor, input: SendInput, fresh: boolean): Promise<void> {
    if (input.messages.length > this.d.config.MAX_RECIPIENT_DEVICES) {
      throw new AppError(
        'VALIDATION_FAILED',
        `messages: at most ${this.d.config.MAX_RECIPIENT_DEVICES} recipient devices`,
      );
    }
    if (repeatsDevice(input.messages)) throw new AppError('VALIDATION_FAILED', 'messages: one envelope per device');
    const devices = await this.recipientDevices(actor, input.recipientId, fresh);
    // The common case answered without building sets and lists; otherwise the lists for the 409/410.
    if (exactlyCovers(input.messages, devices)) return;
    const ids = input.messages.map((m) => m.deviceId);
    const registered = new Map(devices.map((d) => [d.deviceId, d.registrationId]));
    const missingDevices = [...registered.keys()].filter((id) => !ids.includes(id));
    const extraDevices = ids.filter((id) => !registered.has(id));
    if (missingDevices.length || extraDevices.length) {
      throw new AppError('MISMATCHED_DEVICES', 'envelopes do not match the recipient devices', {
        missingDevices,
        extraDevices,
      });
    }
    const staleDevices = input.messages
      .filter((m) => registered.get(m.deviceId) !== m.registrationId)
      .map((m) => m.deviceId);
    if (staleDevices.length) throw new AppError('STALE_DEVICES', 'registration ids changed', { staleDevices });
  }

  /** The live stream of one device; every transport's stream (WS, tRPC, gRPC) is this object. */
  /** The frame budget of one live socket (rate and in-flight bound, from the config). */
  connectionBudget(): ConnectionBudget {
    return this.d.limits.connection(this.frameRule, this.d.config.WS_MAX_INFLIGHT_POINTS);
  }

  /**
   * Counts one stream opening of the device. Opening a stream reads the queue and touches the
   * broker: a device reconnecting in a loop is limited like any other abusable path (a real client
   * reconnects a few times a minute at most). The WebSocket adapter calls this during the upgrade,
   * so a refused client gets a 429 before any socket exists.
   */
  admitStream(actor: Actor): Promise<void> {
    return this.d.limits.consume(this.connectRule, `${actor.userId}:${actor.deviceId}`);
  }

  async openStream(actor: Actor, opts: { admitted?: boolean } = {}): Promise<DeviceStream> {
    if (!opts.admitted) await this.admitStream(actor);
    const stream = new DeviceStream(actor, {
      repo: this.d.repo,
      broker: this.d.broker,
      lowKeys: this.d.lowKeysOnConnect,
      onRead: (reason) => this.d.metrics.streamQueueReads.inc({ reason }),
      nextGeneration: (a) => this.d.kv.incr(`stream-gen:${a.userId}:${a.deviceId}`, STREAM_GEN_TTL_MS),
    });
    const key = `${actor.userId}:${actor.deviceId}`;
    const mine = this.streams.get(key) ?? new Set<DeviceStream>();
    this.streams.set(key, mine.add(stream));
    stream.onClose(() => {
      mine.delete(stream);
      if (mine.size === 0 && this.streams.get(key) === mine) this.streams.delete(key);
    });
    try {
      return await stream.open();
    } catch (e) {
      stream.close();
      throw e;
    }
  }

  async queue(actor: Actor, limit: number): Promise<QueueReply> {
    const rows = await this.d.repo.queue(actor.userId, actor.deviceId, 0n, limit + 1);
    return { messages: rows.slice(0, limit).map((r) => toEnvelope(r)), more: rows.length > limit };
  }

  async ack(actor: Actor, ids: string[]): Promise<void> {
    const valid = ids.filter((id) => UUID_RE.test(id));
    if (valid.length === 0) return;
    await this.acks.submit({ actor, ids: valid });
  }

  /** One UPDATE for the acks of a batch (any devices), then one status message per sender. */
  private async writeAcks(batch: AckRequest[]): Promise<AckChange[][]> {
    const items: AckItem[] = [];
    for (const a of batch)
      for (const id of a.ids) items.push({ id, userId: a.actor.userId, deviceId: a.actor.deviceId });
    const changed = await this.d.repo.ackBatch(items);
    const now = Date.now();
    for (const c of changed) this.d.metrics.deliveryLatency.observe((now - c.storedAtMs) / 1000);
    this.d.metrics.messagesDelivered.inc(changed.length);
    for (const a of batch) {
      for (const s of this.streams.get(`${a.actor.userId}:${a.actor.deviceId}`) ?? []) s.forget(a.ids);
    }
    await this.announce(changed);
    const byDevice = new Map<string, AckChange[]>();
    for (const c of changed) {
      const k = `${c.recipientId}:${c.recipientDeviceId}`;
      const list = byDevice.get(k) ?? [];
      byDevice.set(k, list);
      list.push(c);
    }
    return batch.map((a) => byDevice.get(`${a.actor.userId}:${a.actor.deviceId}`) ?? []);
  }

  async setStatus(actor: Actor, id: string, status: 'delivered' | 'read'): Promise<StatusReply> {
    const changed = await this.d.repo.advance(id, actor.userId, actor.deviceId, status);
    if (changed) {
      await this.announce([changed]);
      return { id, status: changed.status };
    }
    const row = await this.d.repo.findForStatus(id);
    // Only the recipient device may set a status. Anyone else gets the same 404 as for an id that
    // does not exist, so the call cannot be used to probe which message ids exist.
    if (!row || row.recipientId !== actor.userId || row.recipientDeviceId !== actor.deviceId) {
      throw new AppError('NOT_FOUND', 'no such message');
    }
    // Never backwards: the reply gives the status that stands.
    return { id, status: row.status };
  }

  async conversation(
    actor: Actor,
    chatId: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<ConversationReply> {
    const before = cursor === undefined ? null : decodeCursor(cursor);
    if (cursor !== undefined && before === null) throw new AppError('VALIDATION_FAILED', 'cursor: invalid');
    const rows = await this.d.repo.conversation(actor.userId, actor.deviceId, chatId, before, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      // Content only for envelopes addressed to this device; what this user sent is listed without it.
      messages: page.map((r) =>
        toEnvelope(r, r.recipientId === actor.userId && r.recipientDeviceId === actor.deviceId),
      ),
      nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null,
    };
  }

  /**
   * Retention: delivered envelopes go after DELIVERED_RETENTION_HOURS, undelivered ones after
   * MESSAGE_TTL_DAYS. Bounded batches, so a large backlog never holds long locks.
   */
  async purgeExpired(now = new Date(), batch = 1_000): Promise<{ delivered: number; expired: number }> {
    const deliveredBefore = new Date(now.getTime() - this.d.config.DELIVERED_RETENTION_HOURS * 3_600_000);
    const undeliveredBefore = new Date(now.getTime() - this.d.config.MESSAGE_TTL_DAYS * 86_400_000);
    const total = { delivered: 0, expired: 0 };
    for (let round = 0; round < 1_000; round++) {
      const r = await this.d.repo.purge(deliveredBefore, undeliveredBefore, batch);
      total.delivered += r.delivered;
      total.expired += r.expired;
      if (r.delivered < batch && r.expired < batch) break;
    }
    return total;
  }

  /**
   * Every status change reaches all of the sender's devices, on whichever node they are connected:
   * one broker message per sender for all of that sender's changes in the batch.
   */
  private async announce(changes: Array<Pick<StatusChange, 'id' | 'senderId' | 'status'>>): Promise<void> {
    const at = new Date().toISOString();
    const bySender = new Map<string, StatusBatch['events']>();
    for (const c of changes) {
      const list = bySender.get(c.senderId) ?? [];
      bySender.set(c.senderId, list);
      list.push({ type: 'message.status', id: c.id, status: c.status, at });
    }
    await Promise.all(
      [...bySender].map(([senderId, events]) =>
        this.publish(
          userTopic(senderId),
          events.length === 1 && events[0] ? events[0] : ({ type: 'status.batch', events } satisfies StatusBatch),
        ),
      ),
    );
  }

  private publish(topic: string, event: object): Promise<void> {
    return this.publishRaw(topic, JSON.stringify(event));
  }

  private async publishRaw(topic: string, payload: string): Promise<void> {
    await this.d.broker.publish(topic, payload).catch((err: unknown) => {
      this.d.log.warn({ err: String(err), topic: topic.split(':')[0] }, 'broker publish failed');
    });
  }
}

/** Two envelopes for one device? Nested loops for the usual handful, a set beyond. */
function repeatsDevice(messages: ReadonlyArray<{ deviceId: number }>): boolean {
  if (messages.length > 16) return new Set(messages.map((m) => m.deviceId)).size !== messages.length;
  for (let i = 1; i < messages.length; i++) {
    const id = (messages[i] as { deviceId: number }).deviceId;
    for (let j = 0; j < i; j++) if ((messages[j] as { deviceId: number }).deviceId === id) return true;
  }
  return false;
}

/**
 * True when the envelopes (one per device, already checked) name each registered device with its
 * current registration id, none missing and none extra.
 */
function exactlyCovers(
  messages: ReadonlyArray<{ deviceId: number; registrationId: number }>,
  devices: ReadonlyArray<{ deviceId: number; registrationId: number | null }>,
): boolean {
  if (messages.length !== devices.length) return false;
  for (const m of messages) {
    let found = false;
    for (const d of devices) {
      if (d.deviceId === m.deviceId) {
        if (d.registrationId !== m.registrationId) return false;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

/** Refusals that depend on the recipient's device list (which the cache may hold stale). */
function isDeviceRefusal(e: unknown): boolean {
  return (
    e instanceof AppError && (e.code === 'MISMATCHED_DEVICES' || e.code === 'STALE_DEVICES' || e.code === 'NOT_FOUND')
  );
}
