import { randomUUID } from 'node:crypto';
import type { Actor } from '../../domain/actor.js';
import { callDeviceTopic, deviceTopic, type SessionEvent } from '../../domain/topics.js';
import type { Broker, Unsubscribe } from '../../infra/broker/broker.js';
import type { Kv } from '../../infra/kv/kv.js';
import type { ServerCallFrame } from './calls.schemas.js';

const MAX_PENDING = 1_000;

export interface SessionEnd {
  closeCode: number;
  reason: string;
}

/** What travels on a device's call topic between nodes. */
export type CallBusEvent =
  | { type: 'frame'; frame: ServerCallFrame }
  | { type: 'session.replaced'; connId: string; gen: number };

export const presenceKey = (userId: string, deviceId: number) => `call-presence:${userId}:${deviceId}`;

export interface SignalSessionDeps {
  broker: Broker;
  kv: Kv;
  /** Presence lives this long without a refresh; a session refreshes it every third of it. */
  presenceTtlMs: number;
  /** Called once when the session ends (not when a newer session of the device replaced it). */
  onDrop: (session: SignalSession) => void;
}

/**
 * One device's signaling session (a WebSocket or a tRPC subscription): it receives the frames the
 * call engine routes to the device through the Broker, and keeps the device's presence key in Kv
 * alive (the engine rings only devices with a live presence key). One per device across all nodes:
 * the same generation rule as the message stream (DeviceStream) — the newest session stays and the
 * older one ends with 4409, however two opens interleave.
 */
export class SignalSession {
  readonly connId = randomUUID();
  private gen = 0;
  private end: SessionEnd | null = null;
  private readonly pending: ServerCallFrame[] = [];
  private wakeUp: (() => void) | null = null;
  private readonly unsubscribes: Unsubscribe[] = [];
  private refresh: NodeJS.Timeout | undefined;

  constructor(
    readonly actor: Actor,
    private readonly d: SignalSessionDeps,
  ) {}

  get ended(): SessionEnd | null {
    return this.end;
  }

  /** The presence value: which session of the device is current. */
  get presence(): string {
    return `${this.gen}:${this.connId}`;
  }

  async open(): Promise<this> {
    const { userId, deviceId } = this.actor;
    this.gen = await this.d.kv.incr(`call-gen:${userId}:${deviceId}`, 30 * 86_400_000);
    this.unsubscribes.push(await this.d.broker.subscribe(callDeviceTopic(userId, deviceId), (p) => this.onBus(p)));
    // Logout, unlink and ban are announced on the device topic (shared with the message stream).
    this.unsubscribes.push(await this.d.broker.subscribe(deviceTopic(userId, deviceId), (p) => this.onSession(p)));
    await this.d.kv.set(presenceKey(userId, deviceId), this.presence, this.d.presenceTtlMs);
    this.refresh = setInterval(
      () => {
        if (!this.end)
          this.d.kv.set(presenceKey(userId, deviceId), this.presence, this.d.presenceTtlMs).catch(() => {});
      },
      Math.max(100, Math.floor(this.d.presenceTtlMs / 3)),
    );
    this.refresh.unref();
    await this.announce();
    return this;
  }

  /** A heartbeat answered (WebSocket pong): the device is still there. */
  touch(): void {
    if (this.end) return;
    const { userId, deviceId } = this.actor;
    this.d.kv.set(presenceKey(userId, deviceId), this.presence, this.d.presenceTtlMs).catch(() => {});
  }

  private announce(): Promise<void> {
    const { userId, deviceId } = this.actor;
    return this.d.broker.publish(
      callDeviceTopic(userId, deviceId),
      JSON.stringify({ type: 'session.replaced', connId: this.connId, gen: this.gen } satisfies CallBusEvent),
    );
  }

  private onBus(payload: string): void {
    let e: CallBusEvent;
    try {
      e = JSON.parse(payload) as CallBusEvent;
    } catch {
      return;
    }
    if (this.end) return;
    if (e.type === 'session.replaced') {
      if (e.connId === this.connId) return;
      const outranks = this.gen !== e.gen ? this.gen > e.gen : this.connId > e.connId;
      if (outranks) {
        this.announce().catch(() => {});
        return;
      }
      this.finish({ closeCode: 4409, reason: 'replaced by a newer signaling socket of this device' }, false);
      return;
    }
    if (e.type === 'frame') this.push(e.frame);
  }

  private onSession(payload: string): void {
    try {
      const e = JSON.parse(payload) as SessionEvent | { type: string };
      if (e.type === 'session.revoked' || e.type === 'session.banned') {
        const s = e as SessionEvent;
        this.finish({ closeCode: s.closeCode, reason: s.reason }, true);
      }
    } catch {
      // not ours
    }
  }

  /** A frame for this session's own client (errors, pongs) that does not travel through the broker. */
  push(frame: ServerCallFrame): void {
    if (this.end) return;
    if (this.pending.length >= MAX_PENDING) this.pending.shift();
    this.pending.push(frame);
    this.wakeUp?.();
  }

  /** The transport closed (socket gone, subscription aborted). */
  close(end: SessionEnd = { closeCode: 1000, reason: 'closed' }): void {
    this.finish(end, true);
  }

  private finish(end: SessionEnd, dropped: boolean): void {
    if (this.end) return;
    this.end = end;
    clearInterval(this.refresh);
    const subs = this.unsubscribes.splice(0);
    void Promise.allSettled(subs.map((u) => u()));
    // A replaced session leaves presence and calls to its successor.
    if (dropped) this.d.onDrop(this);
    this.wakeUp?.();
  }

  async *events(): AsyncGenerator<ServerCallFrame> {
    try {
      while (!this.end) {
        while (this.pending.length && !this.end) yield this.pending.shift() as ServerCallFrame;
        if (this.end) break;
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        });
        this.wakeUp = null;
      }
    } finally {
      this.close();
    }
  }
}
