import { randomUUID } from 'node:crypto';
import type { Actor } from '../../domain/actor.js';
import { deviceTopic, type SessionEvent, userTopic } from '../../domain/topics.js';
import type { Broker, Unsubscribe } from '../../infra/broker/broker.js';
import type { MessagesRepo } from '../../infra/db/repos/messages.repo.js';
import { toEnvelope } from './envelopes.js';
import type { StreamEnd, StreamEvent } from './messaging.schemas.js';

const PAGE = 100;
const MAX_PENDING_EVENTS = 1_000;
/** Rescan the queue this often even without a wake-up: a missed broker message delays, never loses. */
const RESCAN_MS = 15_000;

type BusEvent =
  | SessionEvent
  | { type: 'wake'; seq: string }
  | { type: 'session.replaced'; connId: string; gen?: number }
  | Extract<StreamEvent, { type: 'message.status' | 'keys.low' }>;

export interface DeviceStreamDeps {
  repo: MessagesRepo;
  broker: Broker;
  /** A number that grows with every stream opened for this device, on any node (a shared counter). */
  nextGeneration: (actor: Actor) => Promise<number>;
  lowKeys: (actor: Actor) => Promise<StreamEvent | null>;
}

/**
 * The delivery object of one connected device (after Signal-Server's per-connection delivery):
 * subscribes first, then drains the stored queue, says `queue.empty`, then goes live. Consumers pull
 * events; nothing is read from the database while the consumer is not pulling (backpressure).
 * Within one stream each envelope is sent once; unacknowledged ones come again on the next stream.
 */
export class DeviceStream {
  readonly connId = randomUUID();
  /** Orders the streams of one device: of two, the one with the higher generation stays. */
  private gen = 0;
  private end: StreamEnd | null = null;
  private pending: StreamEvent[] = [];
  private wakeFrom: bigint | null = null;
  private readonly sent = new Set<string>();
  private wakeUp: (() => void) | null = null;
  private unsubscribes: Unsubscribe[] = [];
  private closeListeners: Array<() => void> = [];

  constructor(
    readonly actor: Actor,
    private readonly d: DeviceStreamDeps,
  ) {}

  get ended(): StreamEnd | null {
    return this.end;
  }

  /** Subscribes to the device's and the user's topics and retires any older stream of this device. */
  async open(): Promise<this> {
    const { userId, deviceId } = this.actor;
    this.gen = await this.d.nextGeneration(this.actor);
    this.unsubscribes.push(await this.d.broker.subscribe(deviceTopic(userId, deviceId), (p) => this.onBus(p)));
    this.unsubscribes.push(await this.d.broker.subscribe(userTopic(userId), (p) => this.onBus(p)));
    await this.announce();
    return this;
  }

  /**
   * "I am this device's stream." Each stream subscribes before it announces, so of any two streams
   * at least one hears the other: the lower generation closes (4409), and the higher, when it hears
   * a lower one, announces again so that one hears it too. Exactly one survives — the newest —
   * however the opens interleave (a plain "newcomer closes the rest" lets two simultaneous opens
   * close each other).
   */
  private announce(): Promise<void> {
    const { userId, deviceId } = this.actor;
    return this.d.broker.publish(
      deviceTopic(userId, deviceId),
      JSON.stringify({ type: 'session.replaced', connId: this.connId, gen: this.gen }),
    );
  }

  private outranks(other: { connId: string; gen?: number }): boolean {
    if (other.gen === undefined) return false; // a node without generations: the newcomer wins
    return this.gen !== other.gen ? this.gen > other.gen : this.connId > other.connId;
  }

  private onBus(payload: string): void {
    let e: BusEvent;
    try {
      e = JSON.parse(payload) as BusEvent;
    } catch {
      return;
    }
    switch (e.type) {
      case 'wake': {
        const from = BigInt(e.seq) - 1n;
        this.wakeFrom = this.wakeFrom === null || from < this.wakeFrom ? from : this.wakeFrom;
        break;
      }
      case 'session.replaced':
        if (e.connId === this.connId || this.end) return;
        if (this.outranks(e)) {
          this.announce().catch(() => {});
          return;
        }
        this.close({ closeCode: 4409, reason: 'replaced by a newer connection of this device' });
        break;
      case 'session.revoked':
      case 'session.banned':
        this.close({ closeCode: e.closeCode, reason: e.reason });
        break;
      case 'message.status':
      case 'keys.low':
        // Status events go to all of a user's devices; each stream keeps a bounded backlog of them.
        if (this.pending.length >= MAX_PENDING_EVENTS) this.pending.shift();
        this.pending.push(e);
        break;
      default:
        return;
    }
    this.wakeUp?.();
  }

  close(end: StreamEnd = { closeCode: 4401, reason: 'closed' }): void {
    if (!this.end) {
      this.end = end;
      for (const l of this.closeListeners.splice(0)) l();
    }
    this.wakeUp?.();
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  /** Acknowledged envelopes leave the per-stream "already sent" set. */
  forget(ids: string[]): void {
    for (const id of ids) this.sent.delete(id);
  }

  async *events(): AsyncGenerator<StreamEvent> {
    try {
      let cursor = 0n;
      yield* this.drain(cursor, (c) => (cursor = c));
      if (this.end) return;
      yield { type: 'queue.empty' };
      const low = await this.d.lowKeys(this.actor);
      if (low) yield low;
      let lastScan = Date.now();
      while (!this.end) {
        while (this.pending.length && !this.end) yield this.pending.shift() as StreamEvent;
        const rescan = Date.now() - lastScan >= RESCAN_MS;
        if (this.wakeFrom !== null || rescan) {
          const from = rescan ? 0n : this.wakeFrom !== null && this.wakeFrom < cursor ? this.wakeFrom : cursor;
          this.wakeFrom = null;
          if (rescan) lastScan = Date.now();
          yield* this.drain(from, (c) => (cursor = c > cursor ? c : cursor));
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, RESCAN_MS);
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeUp = null;
      }
    } finally {
      this.close();
      const subs = this.unsubscribes.splice(0);
      await Promise.allSettled(subs.map((u) => u()));
    }
  }

  /** Pages through undelivered envelopes after `from`, skipping ones this stream already sent. */
  private async *drain(from: bigint, advance: (seq: bigint) => void): AsyncGenerator<StreamEvent> {
    let after = from;
    for (;;) {
      if (this.end) return;
      const rows = await this.d.repo.queue(this.actor.userId, this.actor.deviceId, after, PAGE);
      for (const r of rows) {
        after = r.seq;
        advance(r.seq);
        if (this.sent.has(r.id)) continue;
        this.sent.add(r.id);
        yield { type: 'message', envelope: toEnvelope(r) };
        if (this.end) return;
      }
      if (rows.length < PAGE) return;
    }
  }
}
