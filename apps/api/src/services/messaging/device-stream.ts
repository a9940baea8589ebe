import { randomUUID } from 'node:crypto';
import type { Actor } from '../../domain/actor.js';
import { deviceTopic, type SessionEvent, userTopic } from '../../domain/topics.js';
import type { Broker, Unsubscribe } from '../../infra/broker/broker.js';
import type { MessagesRepo } from '../../infra/db/repos/messages.repo.js';
import { toEnvelope } from './envelopes.js';
import type { Envelope, StreamEnd, StreamEvent } from './messaging.schemas.js';

const PAGE = 100;
const MAX_PENDING_EVENTS = 1_000;
/**
 * Pushed envelopes held for a reader that is not pulling. Beyond this the stream stops holding them
 * and reads them from the database when the reader catches up: a stalled socket costs bounded memory.
 */
const MAX_INBOX = 1_000;
/** Rescan the queue this often even without a push: a lost broker message delays, never loses. */
const RESCAN_MS = 15_000;
/** How long an acknowledged id is still recognised, so a read that raced the ack cannot resend it. */
const RECENT_ACK_MS = 10_000;

const RAW = Symbol('raw frame');
const ENVELOPE_KEY = ',"envelope":';

/** The message event of a pushed envelope, carrying its frame serialised once by the sending node. */
export function messageEvent(envelope: Envelope, frame?: string): StreamEvent {
  const event: StreamEvent & { [RAW]?: string } = { type: 'message', envelope };
  if (frame !== undefined) event[RAW] = frame;
  return event;
}

/** The ready-made JSON frame of an event, if it has one (transports that speak JSON send it as is). */
export function rawFrame(event: StreamEvent): string | undefined {
  return (event as { [RAW]?: string })[RAW];
}

/** `{"type":"message","envelope":…}` around an envelope's JSON. */
export const messageFrame = (envelopeJson: string) => `{"type":"message"${ENVELOPE_KEY}${envelopeJson}}`;

/** The broker message of a pushed envelope: `{"type":"envelope","seq":"…","envelope":…}`. */
export const envelopePayload = (seq: bigint, envelopeJson: string) =>
  `{"type":"envelope","seq":"${seq}"${ENVELOPE_KEY}${envelopeJson}}`;

/** Envelope pushed by a node that just committed it (to a local stream, or inside a broker message). */
export interface PushedEnvelope {
  type: 'envelope';
  seq: string;
  envelope: Envelope;
}

/** Status changes coalesced into one broker message per sender per ack batch. */
export interface StatusBatch {
  type: 'status.batch';
  events: Array<Extract<StreamEvent, { type: 'message.status' }>>;
}

type BusEvent =
  | SessionEvent
  | PushedEnvelope
  | StatusBatch
  | { type: 'wake'; seq: string }
  | { type: 'session.replaced'; connId: string; gen?: number }
  | Extract<StreamEvent, { type: 'message.status' | 'keys.low' }>;

export interface DeviceStreamDeps {
  repo: MessagesRepo;
  broker: Broker;
  /** A number that grows with every stream opened for this device, on any node (a shared counter). */
  nextGeneration: (actor: Actor) => Promise<number>;
  lowKeys: (actor: Actor) => Promise<StreamEvent | null>;
  /** Counts queue reads by reason (live delivery should need none). */
  onRead?: (reason: 'connect' | 'catch-up' | 'rescan') => void;
}

/**
 * The delivery object of one connected device (after Signal-Server's per-connection delivery):
 * subscribes first, then drains the stored queue, says `queue.empty`, then goes live.
 *
 * Live envelopes are pushed: the node that commits an envelope hands it to the recipient's stream
 * directly (same node) or inside the broker message (other node), so live delivery reads nothing
 * from the database. The queue is read on connect, when a push could not be held (overflow, an
 * envelope too large to travel through the broker), on a handoff from a replaced stream, and on the
 * periodic rescan. Whenever a read is due, the held pushes are folded into it (they are in the
 * database too), so envelopes always leave in the order they were committed.
 *
 * Consumers pull events; nothing is read while the consumer is not pulling (backpressure). Within
 * one stream each envelope is sent once; unacknowledged ones come again on the next stream.
 */
export class DeviceStream {
  readonly connId = randomUUID();
  /** Orders the streams of one device: of two, the one with the higher generation stays. */
  private gen = 0;
  private end: StreamEnd | null = null;
  private pending: StreamEvent[] = [];
  private inbox: Array<{ seq: bigint; envelope: Envelope; frame?: string }> = [];
  /** A database read is due for envelopes after this seq (null: none due). */
  private readFrom: bigint | null = null;
  /** Envelopes sent on this stream and not yet acknowledged: id → seq. */
  private readonly sent = new Map<string, bigint>();
  /** Recently acknowledged ids → when; kept briefly so a racing read or push cannot resend them. */
  private readonly acked = new Map<string, number>();
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
    await this.keep(this.d.broker.subscribe(deviceTopic(userId, deviceId), (p) => this.onBus(p)));
    await this.keep(this.d.broker.subscribe(userTopic(userId), (p) => this.onBus(p)));
    // Retired while opening (a newer stream was heard): nothing to announce.
    if (this.end) return this;
    await this.announce();
    return this;
  }

  /** A subscription this stream holds; one that completes after the stream ended is let go at once. */
  private async keep(subscribing: Promise<Unsubscribe>): Promise<void> {
    this.unsubscribes.push(await subscribing);
    if (this.end) this.release();
  }

  private release(): void {
    const subs = this.unsubscribes.splice(0);
    if (subs.length) void Promise.allSettled(subs.map((u) => u()));
  }

  /**
   * A committed envelope for this device. False if the stream has ended (the caller then routes it
   * through the broker, where a newer stream of the device may be listening).
   */
  push(seq: bigint, envelope: Envelope, frame?: string): boolean {
    if (this.end) return false;
    if (this.readFrom !== null || this.inbox.length >= MAX_INBOX) this.readAfter(seq - 1n);
    else this.inbox.push({ seq, envelope, frame });
    this.wakeUp?.();
    return true;
  }

  /** A committed envelope too large to push: read it (and what follows) from the database. */
  wake(seq: bigint): boolean {
    if (this.end) return false;
    this.readAfter(seq - 1n);
    this.wakeUp?.();
    return true;
  }

  /** Status events for this user's messages (coalesced by the sender's node). */
  pushStatus(events: StatusBatch['events']): void {
    for (const e of events) this.enqueueEvent(e);
    this.wakeUp?.();
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

  /** A database read of everything after `seq` is due; held pushes fold into it (keeps the order). */
  private readAfter(seq: bigint): void {
    const first = this.inbox[0];
    let from = first && first.seq - 1n < seq ? first.seq - 1n : seq;
    if (this.readFrom !== null && this.readFrom < from) from = this.readFrom;
    this.readFrom = from;
    this.inbox = [];
  }

  private enqueueEvent(e: StreamEvent): void {
    // Status events go to all of a user's devices; each stream keeps a bounded backlog of them.
    if (this.pending.length >= MAX_PENDING_EVENTS) this.pending.shift();
    this.pending.push(e);
  }

  private onBus(payload: string): void {
    if (this.end) return;
    let e: BusEvent;
    try {
      e = JSON.parse(payload) as BusEvent;
    } catch {
      return;
    }
    switch (e.type) {
      case 'envelope': {
        // The frame is the payload's envelope JSON, re-wrapped: no second serialisation.
        const at = payload.indexOf(ENVELOPE_KEY);
        this.push(BigInt(e.seq), e.envelope, messageFrame(payload.slice(at + ENVELOPE_KEY.length, -1)));
        return;
      }
      case 'wake':
        this.readAfter(BigInt(e.seq) - 1n);
        break;
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
      case 'status.batch':
        for (const s of e.events) this.enqueueEvent(s);
        break;
      case 'message.status':
      case 'keys.low':
        this.enqueueEvent(e);
        break;
      default:
        return;
    }
    this.wakeUp?.();
  }

  close(end: StreamEnd = { closeCode: 4401, reason: 'closed' }): void {
    if (!this.end) {
      this.end = end;
      if (end.closeCode === 4409) this.handOff();
      for (const l of this.closeListeners.splice(0)) l();
      // Also when no reader ever pulled (an open that failed half way): no subscription outlives the stream.
      this.release();
    }
    this.wakeUp?.();
  }

  /**
   * Replaced by a newer stream (maybe on another node) that had already read the queue: what was
   * pushed here and not acknowledged is announced to it, so it reads those envelopes now instead of
   * at its next rescan.
   */
  private handOff(): void {
    let min: bigint | null = this.inbox[0]?.seq ?? null;
    for (const seq of this.sent.values()) if (min === null || seq < min) min = seq;
    if (min === null) return;
    const { userId, deviceId } = this.actor;
    this.d.broker
      .publish(deviceTopic(userId, deviceId), JSON.stringify({ type: 'wake', seq: min.toString() }))
      .catch(() => {});
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  /** Acknowledged envelopes leave the "already sent" set (and are remembered briefly). */
  forget(ids: string[]): void {
    const now = Date.now();
    for (const id of ids) {
      if (this.sent.delete(id)) {
        this.acked.delete(id);
        this.acked.set(id, now);
      }
    }
    for (const [id, at] of this.acked) {
      if (now - at < RECENT_ACK_MS) break;
      this.acked.delete(id);
    }
  }

  /** Marks an envelope sent on this stream; false if it was already (or was acknowledged lately). */
  private claim(id: string, seq: bigint): boolean {
    if (this.sent.has(id) || this.acked.has(id)) return false;
    this.sent.set(id, seq);
    return true;
  }

  async *events(): AsyncGenerator<StreamEvent> {
    try {
      let cursor = 0n;
      this.d.onRead?.('connect');
      yield* this.drain(cursor, (c) => (cursor = c));
      if (this.end) return;
      yield { type: 'queue.empty' };
      const low = await this.d.lowKeys(this.actor);
      if (low) yield low;
      let lastScan = Date.now();
      while (!this.end) {
        while (this.pending.length && !this.end) yield this.pending.shift() as StreamEvent;
        const rescan = Date.now() - lastScan >= RESCAN_MS;
        if (this.readFrom !== null || rescan) {
          const from = rescan ? 0n : (this.readFrom as bigint);
          if (rescan) {
            lastScan = Date.now();
            this.readAfter(0n);
          }
          this.readFrom = null;
          this.d.onRead?.(rescan ? 'rescan' : 'catch-up');
          yield* this.drain(from, (c) => (cursor = c > cursor ? c : cursor));
          continue;
        }
        const next = this.inbox.shift();
        if (next) {
          if (this.claim(next.envelope.id, next.seq)) yield messageEvent(next.envelope, next.frame);
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
        if (!this.claim(r.id, r.seq)) continue;
        yield { type: 'message', envelope: toEnvelope(r) };
        if (this.end) return;
      }
      if (rows.length < PAGE) return;
    }
  }
}
